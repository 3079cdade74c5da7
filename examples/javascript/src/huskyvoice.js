// A small client for the HuskyVoice appointments API on the global `fetch` (Node 18+ or a
// browser): no dependency to install, audit or keep up to date.

/**
 * @typedef {object} Appointment
 * @property {string} appointment_id
 * @property {string} appointment_type  the service's UUID
 * @property {string} branch_id
 * @property {string} date  YYYY-MM-DD
 * @property {'Morning'|'Afternoon'|'Evening'} session
 * @property {string} batch
 * @property {'confirmed'|'rescheduled'|'cancelled'|'completed'} status
 * @property {string} patient_name
 * @property {string} parent_phone
 * @property {string|null} assigned_doctor
 * @property {string|null} token
 * @property {string|null} external_reference_id
 * @property {string} created_at
 * @property {string} updated_at
 *
 * @typedef {{page: number, limit: number, total: number, total_pages: number, has_more: boolean}} Pagination
 * @typedef {{slot_id: string, calendar_id: string, branch_id: string, session: string, batch: string,
 *   start_time: string, end_time: string, ai_slots: number, filled_slots: number, available_slots: number}} Slot
 *
 * @typedef {object} ClientOptions
 * @property {string} baseUrl  e.g. https://api.huskyvoice.ai or http://127.0.0.1:8080
 * @property {string} apiKey
 * @property {Record<string, string>} [headers]  sent with every request (e.g. X-Sandbox-Session)
 * @property {number} [maxRetries]  retries after a 429 or a dropped connection (default 3)
 * @property {number} [timeoutMs]  per attempt, answer and body included (default 10000)
 * @property {typeof globalThis.fetch} [fetch]
 * @property {(ms: number) => Promise<void>} [sleep]
 */

/** An error answer of the API: `{"success": false, "error": {"code", "message", "details"?}}`. */
export class HuskyVoiceError extends Error {
  /** @param {{status: number, code: string, message: string, details?: Array<{location: string, message: string}>}} error */
  constructor({ status, code, message, details }) {
    super(message); // the API's own words; `code` is what to branch on
    this.name = 'HuskyVoiceError';
    this.status = status;
    this.code = code;
    this.details = details ?? [];
  }
}

/** No answer: the connection failed or was dropped, or the attempt timed out. */
export class HuskyVoiceNetworkError extends Error {
  /** @param {string} message @param {{cause?: unknown}} [options] */
  constructor(message, options) {
    super(message, options);
    this.name = 'HuskyVoiceNetworkError';
  }
}

// A GET reads; a PATCH sets fields to given values, so sending it twice leaves the state it
// leaves once (a repeated cancel is documented to return the record unchanged). A POST books
// again: after a dropped connection we cannot know whether the first one was booked.
const SAFE_TO_REPEAT = new Set(['GET', 'PATCH']);

// The API's query names for the camelCase ones callers write (the documented search filters).
/** @type {Record<string, string>} */
const SEARCH_PARAMS = {
  date: 'date', status: 'status', appointmentType: 'appointment_type', branchId: 'branch_id',
  session: 'session', batch: 'batch', page: 'page', limit: 'limit',
};

export class HuskyVoiceClient {
  /** @param {ClientOptions} options */
  constructor({ baseUrl, apiKey, headers = {}, maxRetries = 3, timeoutMs = 10000,
    fetch = globalThis.fetch, sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)) }) {
    if (!baseUrl || !apiKey) throw new TypeError('baseUrl and apiKey are required');
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
    this.headers = headers;
    this.maxRetries = maxRetries;
    this.timeoutMs = timeoutMs;
    this.fetch = fetch;
    this.sleep = sleep;
  }

  /**
   * Book an appointment (the documented create body; camelCase keys are accepted too).
   * @param {{appointment_type: string, appointment_date: string|Date, patient_name: string,
   *   parent_phone: string, branch_id?: string, session?: string} & Record<string, unknown>} body
   * @returns {Promise<Appointment>} the new appointment, `confirmed`
   */
  async bookAppointment(body) {
    return (await this.#request('POST', '/v1/appointments', { body: snakeCase(body) })).data;
  }

  /**
   * @param {{date?: string, status?: string, appointmentType?: string, branchId?: string,
   *   session?: string, batch?: string, page?: number, limit?: number}} [params]
   * @returns {Promise<{data: Appointment[], pagination: Pagination}>}
   */
  async searchAppointments(params = {}) {
    /** @type {Record<string, unknown>} */
    const query = {};
    for (const [name, value] of Object.entries(params)) {
      // A misspelt filter would be ignored and return everything: refuse it here instead.
      if (!(name in SEARCH_PARAMS)) throw new TypeError(`unknown search parameter: ${name}`);
      query[SEARCH_PARAMS[name]] = value;
    }
    const { data, pagination } = await this.#request('GET', '/v1/appointments', { query });
    return { data, pagination };
  }

  /** @param {string} id @returns {Promise<Appointment>} */
  async getAppointment(id) {
    return (await this.#request('GET', appointmentPath(id))).data;
  }

  /**
   * Move an appointment; its status becomes `rescheduled` (unless `status` is sent too).
   * @param {string} id
   * @param {{appointmentDate: string|Date, session?: string, batch?: string, notes?: string|null,
   *   assignedDoctor?: string|null}} changes
   * @returns {Promise<Appointment>}
   */
  async rescheduleAppointment(id, { appointmentDate, ...other }) {
    const body = { ...snakeCase(other), appointment_date: isoDate(appointmentDate) };
    return (await this.#request('PATCH', appointmentPath(id), { body })).data;
  }

  /** Cancelling a cancelled appointment returns it unchanged. @param {string} id @returns {Promise<Appointment>} */
  async cancelAppointment(id) {
    return (await this.#request('PATCH', appointmentPath(id), { body: { status: 'cancelled' } })).data;
  }

  /**
   * The windows open on a date, with live counts.
   * @param {{date: string, branchId?: string, session?: string}} params
   * @returns {Promise<{date: string, slots: Slot[]}>}
   */
  async availability({ date, branchId, session }) {
    const query = { date, branch_id: branchId, session };
    const { slots } = await this.#request('GET', '/v1/appointment-slots/availability', { query });
    return { date, slots };
  }

  /**
   * One API call, with the retries above; the parsed success body.
   * @param {string} method @param {string} path
   * @param {{query?: Record<string, unknown>, body?: unknown}} [options]
   */
  async #request(method, path, { query = {}, body } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = { ...this.headers, Authorization: `Bearer ${this.apiKey}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';

    for (let attempt = 0; ; attempt++) {
      let response, text;
      try {
        response = await this.fetch(url, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        text = await response.text(); // inside the try: the connection can drop mid-body too
      } catch (error) {
        // Not retried: a timeout has already cost timeoutMs, and the caller decides what next.
        if (error?.name === 'TimeoutError' || error?.name === 'AbortError') {
          throw new HuskyVoiceNetworkError(`${method} ${path}: no answer within ${this.timeoutMs} ms`, { cause: error });
        }
        if (!SAFE_TO_REPEAT.has(method)) {
          throw new HuskyVoiceNetworkError(`${method} ${path}: connection failed; not retried, ` +
            'it may or may not have been applied', { cause: error });
        }
        if (attempt >= this.maxRetries) {
          throw new HuskyVoiceNetworkError(`${method} ${path}: connection failed ${attempt + 1} times`, { cause: error });
        }
        await this.sleep(100 * 2 ** attempt); // a short pause, growing: a restarting server gets a moment
        continue;
      }

      const payload = parseJson(text);
      if (response.ok && payload?.success === true) return payload;
      // A 429 is refused before anything is done, so every method can be sent again.
      if (response.status === 429 && attempt < this.maxRetries) {
        await this.sleep(retryAfterMs(response.headers.get('Retry-After')));
        continue;
      }
      throw errorFrom(response, payload);
    }
  }
}

function errorFrom(response, payload) {
  const error = payload?.error;
  if (error && typeof error.code === 'string') {
    return new HuskyVoiceError({ status: response.status, code: error.code, message: error.message, details: error.details });
  }
  // Not the API's envelope: a proxy's page, or a body cut short.
  return new HuskyVoiceError({ status: response.status, code: `HTTP_${response.status}`,
    message: `unexpected answer (${response.headers.get('Content-Type') ?? 'no Content-Type'})` });
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// Whole seconds, as documented; a missing or unreadable value waits one second.
function retryAfterMs(value) {
  const seconds = Number.parseInt(value ?? '', 10);
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 1) * 1000;
}

function appointmentPath(id) {
  if (typeof id !== 'string' || id === '') throw new TypeError('an appointment id is required');
  return `/v1/appointments/${encodeURIComponent(id)}`;
}

// The API wants a UTC datetime with a time ("2026-06-15T09:30:00.000Z"): toISOString's form.
function isoDate(value) {
  return value instanceof Date ? value.toISOString() : value;
}

function snakeCase(object) {
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [
    key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    key === 'appointmentDate' || key === 'appointment_date' ? isoDate(value) : value,
  ]));
}
