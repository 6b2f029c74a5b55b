// Errors a handler throws to answer with a JSON error body instead of crashing the server.

export class HttpError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
  }
  body() {
    return { error: this.message, ...this.extra };
  }
}

export class BadRequest extends HttpError {
  constructor(message, extra) {
    super(400, message, extra);
  }
}

export class NotFound extends HttpError {
  constructor(message, extra) {
    super(404, message, extra);
  }
}
