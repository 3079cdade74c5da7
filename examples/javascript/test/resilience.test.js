// 429s, dropped connections and timeouts, forced by the sandbox (docs/forced-responses.md), and
// checked in its request journal: what the client sent, not only what it returned.

import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HuskyVoiceError, HuskyVoiceNetworkError } from '../src/huskyvoice.js';
import { sandboxSession } from '../support/sandbox.js';

const AADHI = 'appt_a1b2c3d4e5';
const TARA = {
  appointment_type: 'General Checkup', appointment_date: '2026-06-15T09:30:00.000Z',
  patient_name: 'Tara', parent_phone: '+919800011111', branch_id: 'branch_uuid_here',
};

/** A sleep that records each wait; `real` waits for it too. */
function recordingSleep({ real = false } = {}) {
  const waits = [];
  const sleep = async (ms) => {
    waits.push(ms);
    if (real) await new Promise((resolve) => setTimeout(resolve, ms));
  };
  return { waits, sleep };
}

describe('429s, dropped connections and timeouts', () => {
  let sandbox;
  /** The journal's requests for one operation: [status, forced?] each (status null: dropped). */
  const calls = async (operation) => (await sandbox.journal())
    .filter((entry) => entry.operation === operation)
    .map((entry) => [entry.response.status, entry.forced !== null]);

  beforeEach(async () => {
    sandbox = sandboxSession('resilience');
    await sandbox.reset();
  });

  it('waits Retry-After seconds after a 429, then retries', async () => {
    await sandbox.force({ status: 429, headers: { 'Retry-After': 1 } });
    const { waits, sleep } = recordingSleep({ real: true });
    const started = performance.now();
    const appointment = await sandbox.client({ sleep }).getAppointment(AADHI);
    const elapsed = performance.now() - started;

    assert.equal(appointment.appointment_id, AADHI);
    assert.deepEqual(waits, [1000]);
    assert.ok(elapsed >= 990, `retried after ${elapsed} ms, before Retry-After's second`);
    assert.deepEqual(await calls('getAppointment'), [[429, true], [200, false]]);
  });

  it('retries a POST after a 429 too: nothing was booked the first time', async () => {
    await sandbox.force({ operation: 'createAppointment', status: 429, headers: { 'Retry-After': 2 } });
    const { waits, sleep } = recordingSleep(); // does not wait: the sandbox does not check
    const client = sandbox.client({ sleep });
    const booked = await client.bookAppointment(TARA);

    assert.deepEqual(waits, [2000]);
    assert.deepEqual(await calls('createAppointment'), [[429, true], [201, false]]);
    const { data } = await client.searchAppointments({ date: '2026-06-15' });
    assert.deepEqual(data.filter((a) => a.patient_name === 'Tara').map((a) => a.appointment_id), [booked.appointment_id]);
  });

  it('gives up after maxRetries 429s with RATE_LIMIT_EXCEEDED', async () => {
    await sandbox.force({ status: 429, times: 3, headers: { 'Retry-After': 1 } });
    const { waits, sleep } = recordingSleep();
    await assert.rejects(sandbox.client({ sleep, maxRetries: 2 }).getAppointment(AADHI), (error) => {
      assert.ok(error instanceof HuskyVoiceError);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'RATE_LIMIT_EXCEEDED');
      return true;
    });
    assert.deepEqual(waits, [1000, 1000]);
    assert.deepEqual(await calls('getAppointment'), [[429, true], [429, true], [429, true]]);
  });

  it('retries a GET whose connection was dropped', async () => {
    await sandbox.force({ operation: 'getAppointment', drop: true });
    const appointment = await sandbox.client().getAppointment(AADHI);

    assert.equal(appointment.appointment_id, AADHI);
    assert.deepEqual(await calls('getAppointment'), [[null, true], [200, false]]);
  });

  it('retries a PATCH whose connection was dropped: sending it again leaves the same state', async () => {
    await sandbox.force({ operation: 'updateAppointment', drop: true });
    const cancelled = await sandbox.client().cancelAppointment(AADHI);

    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(await calls('updateAppointment'), [[null, true], [200, false]]);
  });

  it('does not retry a POST whose connection was dropped: it may have booked', async () => {
    await sandbox.force({ operation: 'createAppointment', drop: true });
    const { waits, sleep } = recordingSleep();
    const client = sandbox.client({ sleep });
    await assert.rejects(client.bookAppointment(TARA), (error) => {
      assert.ok(error instanceof HuskyVoiceNetworkError, `expected a HuskyVoiceNetworkError, got ${error}`);
      assert.ok(error.cause instanceof Error, 'the fetch error is kept as the cause');
      return true;
    });

    assert.deepEqual(waits, []);
    assert.deepEqual(await calls('createAppointment'), [[null, true]]);
    const { data } = await client.searchAppointments({ date: '2026-06-15' });
    assert.equal(data.filter((a) => a.patient_name === 'Tara').length, 0); // the sandbox booked nothing
  });

  it('gives up on a connection dropped maxRetries + 1 times', async () => {
    await sandbox.force({ operation: 'getAppointment', drop: true, times: 3 });
    const { waits, sleep } = recordingSleep();
    await assert.rejects(sandbox.client({ sleep, maxRetries: 2 }).getAppointment(AADHI), HuskyVoiceNetworkError);
    assert.equal(waits.length, 2);
    assert.deepEqual(await calls('getAppointment'), [[null, true], [null, true], [null, true]]);
  });

  it('gives up on a request without an answer within timeoutMs', async () => {
    await sandbox.force({ operation: 'getAppointment', delay_ms: 1500 });
    const started = performance.now();
    await assert.rejects(sandbox.client({ timeoutMs: 200 }).getAppointment(AADHI), (error) => {
      assert.ok(error instanceof HuskyVoiceNetworkError);
      assert.equal(error.cause?.name, 'TimeoutError');
      return true;
    });
    assert.ok(performance.now() - started < 1400, 'the client stopped waiting before the answer came');
  });
});
