import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from './helpers/db.js';

/** The schedule rows live beside shipments without a foreign key: the migration's triggers keep them in step. */
describe('shipment_schedule', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('gives every inserted parcel one row due at once, COPY included, and drops it with the parcel (delete, cascade, truncate)', async () => {
    const [o] = await db.sql`insert into orders (platform, external_id, paid_at) values ('taobao', 'S1', '2026-11-11T00:00:00Z') returning id`;
    const orderId = Number(o!.id);
    await db.sql`insert into shipments (order_id, carrier, tracking_no) select ${orderId}, 'ZTO', 'ZT' || g from generate_series(1, 3) g`;
    const copy = await db.sql`copy shipments (order_id, carrier, tracking_no) from stdin`.writable();
    await new Promise<void>((resolve, reject) => copy.end(`${orderId}\tYTO\tYT1\n${orderId}\tYTO\tYT2\n`, () => resolve()).on('error', reject));
    const rows = await db.sql`
      select s.tracking_no, c.next_poll_at, c.next_check_at from shipments s join shipment_schedule c on c.shipment_id = s.id order by s.id`;
    expect(rows.map((r) => [r.tracking_no, r.next_poll_at.getTime(), r.next_check_at.getTime()])).toEqual(
      ['ZT1', 'ZT2', 'ZT3', 'YT1', 'YT2'].map((t) => [t, 0, 0]),
    );
    expect(Number((await db.sql`select count(*) from shipment_schedule`)[0]!.count)).toBe(5);

    await db.sql`delete from shipments where tracking_no = 'ZT2'`;
    expect((await db.sql`select shipment_id from shipment_schedule order by 1`).map((r) => Number(r.shipment_id))).not.toContain(
      Number((await db.sql`select max(id) from shipments`)[0]!.max) - 3,
    );
    expect(Number((await db.sql`select count(*) from shipment_schedule`)[0]!.count)).toBe(4);
    await db.sql`delete from orders where id = ${orderId}`; // cascades to its other parcels
    expect(Number((await db.sql`select count(*) from shipment_schedule`)[0]!.count)).toBe(0);

    await db.sql`insert into orders (platform, external_id, paid_at) values ('taobao', 'S2', '2026-11-11T00:00:00Z')`;
    await db.sql`insert into shipments (order_id, carrier, tracking_no) select id, 'SF', 'SF1' from orders`;
    await db.sql`truncate orders, shipments restart identity cascade`;
    expect(Number((await db.sql`select count(*) from shipment_schedule`)[0]!.count)).toBe(0);
  });
});
