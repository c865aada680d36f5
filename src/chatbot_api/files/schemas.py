"""Wire models of the files routes: the upload result and the `{"error": …}` body."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from chatbot_api.files.storage import StoredObject


class UploadResult(BaseModel):
    """Where the uploaded file lives (the Vercel Blob `put` result shape)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    url: str = Field(description="Public URL of the file")
    download_url: str = Field(description="URL that downloads the file as an attachment")
    pathname: str = Field(description="Stored name: original basename + random suffix")
    content_type: str = Field(description="image/jpeg, image/png (PDF, text): from the bytes")
    content_disposition: str

    @classmethod
    def from_stored(cls, stored: StoredObject, base_url: str) -> UploadResult:
        """`base_url` (the service's own URL) completes URLs that are relative to it."""

        def absolute(url: str) -> str:
            return f"{base_url.rstrip('/')}{url}" if url.startswith("/") else url

        return cls(
            url=absolute(stored.url),
            download_url=absolute(stored.download_url),
            pathname=stored.pathname,
            content_type=stored.content_type,
            content_disposition=stored.content_disposition,
        )


class UploadErrorBody(BaseModel):
    """The upload route's error format (not the `{code, message}` envelope)."""

    error: str = Field(examples=["File type should be JPEG or PNG"])
