// Booking, searching and availability against the sandbox's default world (clock frozen at
// 2026-05-26T11:00Z; 2026-06-15 is a Monday).

import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HuskyVoiceError } from '../src/huskyvoice.js';
import { READ_KEY, sandboxSession } from '../support/sandbox.js';

const TARA = {
  appointment_type: 'General Checkup', // a service's name or its UUID
  appointment_date: '2026-06-15T09:30:00.000Z',
  patient_name: 'Tara',
  parent_phone: '+919800011111',
  session: 'Morning',
  branch_id: 'branch_uuid_here',
};
const MONDAY_MORNING = { date: '2026-06-15', session: 'Morning', branchId: 'branch_uuid_here' };

describe('booking and finding appointments', () => {
  let sandbox, client, reader;

  beforeEach(async () => {
    sandbox = sandboxSession('booking');
    await sandbox.reset();
    client = sandbox.client();
    reader = sandbox.client({ apiKey: READ_KEY });
  });

  it('books an appointment, then finds it by id and by search', async () => {
    const booked = await client.bookAppointment(TARA);
    assert.match(booked.appointment_id, /^appt_[a-z0-9]{10}$/);
    assert.equal(booked.status, 'confirmed');
    assert.equal(booked.appointment_type, 'f47ac10b-58cc-4372-a567-0e02b2c3d479'); // stored as the UUID
    assert.deepEqual([booked.date, booked.session, booked.batch], ['2026-06-15', 'Morning', 'MA']);

    assert.deepEqual(await reader.getAppointment(booked.appointment_id), booked);
    const { data } = await reader.searchAppointments({ date: '2026-06-15', session: 'Morning' });
    assert.deepEqual(data.find((a) => a.appointment_id === booked.appointment_id), booked);

    const [create] = (await sandbox.journal()).filter((entry) => entry.operation === 'createAppointment');
    assert.equal(create.response.status, 201);
  });

  it('refuses a second booking of the same service that day: DUPLICATE_BOOKING', async () => {
    await client.bookAppointment(TARA);
    await assert.rejects(client.bookAppointment({ ...TARA, appointment_date: '2026-06-15T10:00:00.000Z' }),
      (error) => {
        assert.ok(error instanceof HuskyVoiceError);
        assert.equal(error.status, 409);
        assert.equal(error.code, 'DUPLICATE_BOOKING');
        assert.match(error.message, /Tara already has an active General Checkup booking on 2026-06-15/);
        return true;
      });
  });

  it('searches with filters, one page at a time', async () => {
    const first = await reader.searchAppointments({ date: '2026-06-15', session: 'Morning', limit: 2 });
    // By start time: Anya at East Branch (08:00 window), Aadhi (09:30), then Kabir's cancelled one.
    assert.deepEqual(first.data.map((a) => a.appointment_id), ['appt_2c3d4e5f6a', 'appt_a1b2c3d4e5']);
    assert.deepEqual(first.pagination, { page: 1, limit: 2, total: 3, total_pages: 2, has_more: true });

    const second = await reader.searchAppointments({ date: '2026-06-15', session: 'Morning', limit: 2, page: 2 });
    assert.deepEqual(second.data.map((a) => a.appointment_id), ['appt_d4e5f6a7b8']);
    assert.equal(second.pagination.has_more, false);

    const cancelled = await reader.searchAppointments({ status: 'cancelled', branchId: 'branch_uuid_here' });
    assert.ok(cancelled.data.length > 0);
    assert.ok(cancelled.data.every((a) => a.status === 'cancelled' && a.branch_id === 'branch_uuid_here'));

    // A misspelt filter is refused before any request, rather than silently matching everything.
    await assert.rejects(reader.searchAppointments({ day: '2026-06-15' }), TypeError);
  });

  it('shows the booking in availability: one place fewer in its window', async () => {
    const window = (result) => result.slots.find((slot) => slot.batch === 'MA');
    const before = window(await reader.availability(MONDAY_MORNING));
    assert.equal(before.slot_id, 'a1b2c3d4-e5f6-7890-abcd-ef1234567890||2026-06-15');
    assert.deepEqual([before.ai_slots, before.filled_slots, before.available_slots], [10, 1, 9]);

    await client.bookAppointment(TARA);
    const after = window(await reader.availability(MONDAY_MORNING));
    assert.deepEqual([after.filled_slots, after.available_slots], [2, 8]);
  });
});
