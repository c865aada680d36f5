"""Upload rules: what is accepted (JPEG/PNG by their bytes, ≤ 5 MiB; with
ALLOW_DOCUMENT_ATTACHMENTS also PDF by its bytes and UTF-8 text), the safe stored name."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

import structlog

from chatbot_api.core.errors import AppError
from chatbot_api.files.multipart import FormFile
from chatbot_api.files.storage import LocalFile, Storage, StorageError, StoredObject

log = structlog.get_logger("chatbot_api.files")

NOT_A_FILE = "Input not instance of Blob"
TOO_LARGE = "File size should be less than 5MB"
WRONG_TYPE = "File type should be JPEG or PNG"
WRONG_TYPE_DOCUMENTS = "File type should be JPEG, PNG, PDF or text (txt, md, csv, json)"
UPLOAD_FAILED = "Upload failed"

MAX_STEM_LENGTH = 64
SUFFIX_LENGTH = 24
SUFFIX_ALPHABET = string.ascii_letters + string.digits
DEFAULT_STEM = "upload"

# (magic bytes, content type, extension); decided by the bytes, never by the declared type
IMAGE_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
PDF_SIGNATURE = (b"%PDF-", "application/pdf", "pdf")
# UTF-8 text, known by its declared type (else its extension); the stored type is ours.
TEXT_TYPES: dict[str, str] = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/csv": "csv",
    "application/json": "json",
}
TEXT_EXTENSIONS: dict[str, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
}
EXTENSIONS = "|".join(
    sorted({ext for _, _, ext in IMAGE_SIGNATURES} | {"pdf"} | set(TEXT_TYPES.values()))
)
SAFE_PATHNAME = re.compile(
    rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_STEM_LENGTH - 1}}}"
    rf"-[A-Za-z0-9]{{{SUFFIX_LENGTH}}}\.(?:{EXTENSIONS})"
)
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


class StoredFileNotFound(AppError):
    code = "not_found:api"


class UploadRejected(Exception):
    """The upload cannot be accepted; `message` is the route's `{"error": …}` text."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ImageType:
    content_type: str
    extension: str


def detect_image_type(head: bytes) -> ImageType | None:
    """JPEG or PNG by the file's magic bytes, else None."""
    for magic, content_type, extension in IMAGE_SIGNATURES:
        if head.startswith(magic):
            return ImageType(content_type, extension)
    return None


def detect_document_type(upload: FormFile) -> ImageType | None:
    """A PDF by its magic bytes, or UTF-8 text (no NUL) declared as one of TEXT_TYPES or
    named with one of their extensions; else None."""
    magic, pdf_type, pdf_extension = PDF_SIGNATURE
    if upload.data.startswith(magic):
        return ImageType(pdf_type, pdf_extension)
    declared = (upload.declared_type or "").split(";", 1)[0].strip().lower()
    extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    content_type = declared if declared in TEXT_TYPES else TEXT_EXTENSIONS.get(extension)
    if content_type is None or b"\x00" in upload.data:
        return None
    try:
        upload.data.decode("utf-8")
    except UnicodeDecodeError:
        if not upload.too_large:  # a cut may split a character; the size check refuses it
            return None
    content_type = "text/markdown" if content_type == "text/x-markdown" else content_type
    return ImageType(content_type, TEXT_TYPES[content_type])


def safe_pathname(filename: str, extension: str) -> str:
    """`<sanitized basename>-<random suffix>.<extension>`: no directories, only
    `[A-Za-z0-9._-]`, bounded length, matching SAFE_PATHNAME."""
    basename = re.split(r"[/\\]", filename)[-1]
    stem = basename.rsplit(".", 1)[0] if "." in basename.lstrip(".") else basename
    stem = _UNSAFE_RUN.sub("_", stem)[:MAX_STEM_LENGTH].strip("._-") or DEFAULT_STEM
    suffix = "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
    return f"{stem}-{suffix}.{extension}"


def is_safe_pathname(pathname: str) -> bool:
    return SAFE_PATHNAME.fullmatch(pathname) is not None


def check_upload(upload: FormFile, *, documents: bool = False) -> ImageType:
    """The detected type, or UploadRejected with every failure joined by ", ".
    `documents`: PDF and text are accepted too."""
    errors = []
    image_type = detect_image_type(upload.data) if upload.is_file else None
    if image_type is None and upload.is_file and documents:
        image_type = detect_document_type(upload)
    if not upload.is_file:
        errors.append(NOT_A_FILE)
    elif upload.too_large:
        errors.append(TOO_LARGE)
    if upload.is_file and image_type is None:
        errors.append(WRONG_TYPE_DOCUMENTS if documents else WRONG_TYPE)
    if errors or image_type is None:
        raise UploadRejected(", ".join(errors))
    return image_type


async def upload_image(
    storage: Storage, upload: FormFile, *, documents: bool = False
) -> StoredObject:
    """Validate and store one image (or, `documents`, PDF or text) under a fresh safe name."""
    image_type = check_upload(upload, documents=documents)
    pathname = safe_pathname(upload.filename, image_type.extension)
    try:
        return await storage.put(pathname, upload.data, image_type.content_type)
    except StorageError as exc:
        log.warning("upload failed", backend=storage.name, error=str(exc))
    except Exception:
        log.exception("upload failed", backend=storage.name)
    raise UploadRejected(UPLOAD_FAILED, status=500)


async def find_stored_file(storage: Storage, pathname: str) -> LocalFile:
    """A file this service stored and serves itself; anything else is not found."""
    found = await storage.open(pathname) if is_safe_pathname(pathname) else None
    if found is None:
        raise StoredFileNotFound("File not found")
    return found
