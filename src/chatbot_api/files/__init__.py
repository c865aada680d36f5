"""File uploads and the storage backends (local directory, S3-compatible, Vercel Blob)."""
