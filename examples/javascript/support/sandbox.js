// What the tests need from the sandbox: its address, a session of their own, and its control API
// (docs/control-api.md in the sandbox's repository). Not a test file, though `node --test` loads
// it as one (every .js file under test/ is) and reports it as passing.

import { randomUUID } from 'node:crypto';
import { HuskyVoiceClient } from '../src/huskyvoice.js';

export const SANDBOX_URL = (process.env.HUSKYVOICE_SANDBOX_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const ADMIN_TOKEN = process.env.HUSKYVOICE_SANDBOX_ADMIN_TOKEN;

// The default world's keys.
export const WRITE_KEY = 'sk_test_demo_write';
export const READ_KEY = 'sk_test_demo_read';
export const OTHER_WRITE_KEY = 'sk_test_other_write'; // Lakeview: no cancellations, 5 requests a minute

/**
 * A session of its own on the sandbox: a private copy of the world, journal and forced
 * responses, so test files running in parallel against one server never see each other.
 * @param {string} label  names the session (it shows in GET /_sandbox/sessions)
 */
export function sandboxSession(label) {
  // Names: 1-64 printable ASCII characters, no space or '/'.
  const name = `js-${label.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 40)}-${randomUUID().slice(0, 8)}`;
  const headers = { 'X-Sandbox-Session': name };

  async function control(method, path, body) {
    const response = await fetch(`${SANDBOX_URL}/_sandbox${path}`, {
      method,
      headers: {
        ...headers,
        ...(ADMIN_TOKEN ? { 'X-Sandbox-Admin-Token': ADMIN_TOKEN } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = await response.json();
    if (!payload.success) {
      throw new Error(`${method} /_sandbox${path}: ${response.status} ${JSON.stringify(payload.error)}`);
    }
    return payload.data;
  }

  return {
    name,
    headers,
    /** Back to the world as loaded: appointments, clock, rate limits; pending rules dropped. */
    reset: () => control('POST', '/reset'),
    /** Answer the next matching request(s) as the rule says (docs/forced-responses.md). */
    force: (rule) => control('POST', '/forced-responses', rule),
    /** The session's API requests with their responses, oldest first. */
    journal: () => control('GET', '/requests'),
    /** A client whose requests go to this session; the write key unless options.apiKey says otherwise. */
    client: (options = {}) => new HuskyVoiceClient({ baseUrl: SANDBOX_URL, apiKey: WRITE_KEY, headers, ...options }),
  };
}
