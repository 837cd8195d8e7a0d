// The HTTP API, as the page uses it (nothing else). The token, when the server has one, travels as a cookie.
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function check(response) {
  if (response.ok) return response;
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) detail = body.detail.map((d) => d.msg).join("; ");
  } catch { /* not JSON */ }
  throw new ApiError(response.status, detail);
}

export async function get(path) {
  return (await check(await fetch(path))).json();
}

export async function send(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return (await check(await fetch(path, init))).json();
}

export async function upload(file, onProgress) {
  // XMLHttpRequest, not fetch: it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/videos/upload?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.setRequestHeader("x-vidrecall", "1"); // a page on another site cannot set it: the server asks for it on uploads
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* empty */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, typeof body.detail === "string" ? body.detail : `upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, "upload failed: the connection broke"));
    xhr.send(file);
  });
}

// POST a question; call onEvent(name, data) for each server-sent event as it arrives.
export async function ask(videoId, request, onEvent, signal) {
  return readEvents(await fetch(`/api/videos/${encodeURIComponent(videoId)}/ask`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request), signal,
  }), onEvent);
}

// Follow a question still being answered (after a reload): the events it sent so far, then the rest.
export async function live(sessionId, questionId, onEvent, signal) {
  const path = `/api/sessions/${encodeURIComponent(sessionId)}/live?question_id=${encodeURIComponent(questionId)}`;
  return readEvents(await fetch(path, { signal }), onEvent);
}

async function readEvents(fetched, onEvent) {
  const response = await check(fetched);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      onEvent(name, data.length ? JSON.parse(data.join("\n")) : {});
    }
  }
}
