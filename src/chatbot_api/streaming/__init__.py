"""The UI message stream: chunk encoding (SSE), the message accumulator, the stream log."""
