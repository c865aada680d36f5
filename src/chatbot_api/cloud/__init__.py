"""The self-hosted Assistant Cloud `/v1` API that the `assistant-cloud` client calls."""
