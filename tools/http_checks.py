"""What every HTTP model client (LLM, captioner, transcriber) says about a server, in one place: the
preflight `GET /models` and the one-line text of a failed reply."""
from __future__ import annotations

import httpx


def one_line(text: object, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_text(response: httpx.Response) -> str:
    """The server's own error message (OpenAI's `{"error": {"message": …}}`, else the body), one line."""
    try:
        message = response.json().get("error", {}).get("message", "")
    except (ValueError, AttributeError):
        message = response.text
    return one_line(message)


def check_models_endpoint(base_url: str, headers: dict[str, str], *, server: str, fix: str, key_hint: str,
                          error: type[Exception], timeout: float | httpx.Timeout) -> None:
    """GET <base_url>/models: an unreachable server, a rejected key or a failing server raise `error` with
    one line (`server` names it, e.g. "LLM server"; `fix` says what to do when it cannot be reached)."""
    try:
        response = httpx.get(f"{base_url}/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise error(f"cannot reach the {server} at {base_url} ({type(exc).__name__}): {fix}") from None
    if response.status_code in (401, 403):
        raise error(f"the {server} at {base_url} rejected the API key (HTTP {response.status_code}): "
                    f"check {key_hint}")
    if response.status_code >= 500:
        raise error(f"the {server} at {base_url} answers HTTP {response.status_code}: check the server")
