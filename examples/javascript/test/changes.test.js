// Rescheduling and cancelling, and the answers that refuse them, against the default world.

import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HuskyVoiceError } from '../src/huskyvoice.js';
import { OTHER_WRITE_KEY, READ_KEY, sandboxSession } from '../support/sandbox.js';

const AADHI = 'appt_a1b2c3d4e5'; // Monday 2026-06-15, Morning MA, confirmed
const KABIR_CANCELLED = 'appt_d4e5f6a7b8';
const LAKEVIEW_ROHAN = 'appt_9z8y7x6w5v'; // Lakeview allows no cancellations

/** assert.rejects' check: a HuskyVoiceError with this status and code. */
const apiError = (status, code) => (error) => {
  assert.ok(error instanceof HuskyVoiceError, `expected a HuskyVoiceError, got ${error}`);
  assert.equal(error.status, status);
  assert.equal(error.code, code);
  return true;
};

describe('rescheduling and cancelling', () => {
  let sandbox, client;

  beforeEach(async () => {
    sandbox = sandboxSession('changes');
    await sandbox.reset();
    client = sandbox.client();
  });

  it('reschedules into the window the new time falls in; the status becomes rescheduled', async () => {
    const moved = await client.rescheduleAppointment(AADHI, { appointmentDate: '2026-06-15T14:30:00.000Z' });
    assert.deepEqual([moved.date, moved.session, moved.batch, moved.status],
      ['2026-06-15', 'Afternoon', 'AA', 'rescheduled']);

    // A Date works too (sent as its ISO string), with other fields in the same request.
    const friday = await client.rescheduleAppointment(AADHI, {
      appointmentDate: new Date(Date.UTC(2026, 5, 19, 15, 0)), assignedDoctor: 'Dr. Priya Sharma' });
    assert.deepEqual([friday.date, friday.session, friday.batch, friday.status, friday.assigned_doctor],
      ['2026-06-19', 'Afternoon', 'AA', 'rescheduled', 'Dr. Priya Sharma']);
    assert.deepEqual(await sandbox.client({ apiKey: READ_KEY }).getAppointment(AADHI), friday);
  });

  it('refuses a reschedule into a full window with SLOT_FULL, and changes nothing', async () => {
    const before = await client.getAppointment(AADHI);
    // Tuesday Morning takes one API booking, and Meera has it.
    await assert.rejects(client.rescheduleAppointment(AADHI, { appointmentDate: '2026-06-16T10:00:00.000Z' }),
      apiError(409, 'SLOT_FULL'));
    assert.deepEqual(await client.getAppointment(AADHI), before);
  });

  it('locates what is wrong with a request in the error details', async () => {
    await assert.rejects(client.rescheduleAppointment(AADHI, { appointmentDate: '2026-06-15' }), (error) => {
      apiError(400, 'VALIDATION_ERROR')(error);
      assert.deepEqual(error.details.map((d) => d.location), ['body.appointment_date']);
      return true;
    });
  });

  it('cancels, frees the place, and a second cancel returns the appointment unchanged', async () => {
    const cancelled = await client.cancelAppointment(AADHI);
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(await client.cancelAppointment(AADHI), cancelled); // updated_at included

    const { slots } = await client.availability({ date: '2026-06-15', branchId: 'branch_uuid_here', session: 'Morning' });
    assert.equal(slots.find((slot) => slot.batch === 'MA').filled_slots, 0);

    // Kabir's follow-up was cancelled before: the record comes back as it was.
    const kabir = await client.getAppointment(KABIR_CANCELLED);
    assert.deepEqual(await client.cancelAppointment(KABIR_CANCELLED), kabir);
  });

  it('refuses a cancellation where the clinic allows none: CANCELLATION_NOT_ALLOWED', async () => {
    const lakeview = sandbox.client({ apiKey: OTHER_WRITE_KEY });
    await assert.rejects(lakeview.cancelAppointment(LAKEVIEW_ROHAN), apiError(409, 'CANCELLATION_NOT_ALLOWED'));
    assert.equal((await lakeview.getAppointment(LAKEVIEW_ROHAN)).status, 'confirmed');
  });
});
