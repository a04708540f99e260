import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAcceptedItem } from './parse.js';
import { SEVENTEEN_MAIN_STATUS, SEVENTEEN_STAGE, SEVENTEEN_SUB_STATUS, seventeenStatus } from './status-map.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8'));
const TZ = 'Asia/Shanghai';

function item(status: string, sub: string | null, events: Record<string, unknown>[] = []) {
  return { number: 'N', track_info: { latest_status: { status, sub_status: sub }, tracking: { providers: [{ provider: { key: 1 }, events }] } } };
}

describe('17TRACK status maps', () => {
  it.each(Object.entries(SEVENTEEN_MAIN_STATUS))('main %s → %s', (main, status) => {
    expect(seventeenStatus(main, null)).toBe(status);
    expect(seventeenStatus(main, `${main}_SomethingNew`)).toBe(status); // unknown sub → <Main>_Other
  });

  it.each(Object.entries(SEVENTEEN_SUB_STATUS))('sub %s → %s', (sub, status) => {
    const main = sub.split('_')[0]!;
    expect(seventeenStatus(main, sub)).toBe(status);
    const r = parseAcceptedItem(item(main, sub, [{ time_utc: '2026-11-12T00:00:00Z', description: 'x', sub_status: sub }]), 'N', TZ);
    expect(r.kind === 'ok' && r.events[0]!.status).toBe(status);
    expect(r.kind === 'ok' && r.summaryStatus).toBe(status);
  });

  it.each(Object.entries(SEVENTEEN_STAGE))('event stage %s → %s', (stage, status) => {
    const r = parseAcceptedItem(item('InTransit', null, [{ time_iso: '2026-11-12T08:00:00+08:00', description: 'x', stage }]), 'N', TZ);
    expect(r.kind === 'ok' && r.events[0]!.status).toBe(status);
  });
});

describe('parseAcceptedItem', () => {
  it('fixture: DHL Paket item', () => {
    const r = parseAcceptedItem(fixture('seventeentrack-gettrackinfo.json').data.accepted[0], '1234567890', TZ);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.events).toHaveLength(1);
    expect(r.events[0]!.occurredAt.toISOString()).toBe('2022-09-14T07:47:00.000Z');
    expect(r.events[0]!.status).toBe('at_pickup_point');
    expect(r.events[0]!.location).toBe('Germany');
    expect(r.summaryStatus).toBe('problem');
  });

  it('time_iso with offset, then a bare local time in the business zone; sorted ascending', () => {
    const r = parseAcceptedItem(
      item('InTransit', 'InTransit_Other', [
        { time_iso: '2021-12-15 20:15:14', description: '【苏州转运中心】已发出' },
        { time_iso: '2021-12-15T10:00:00+08:00', description: '已揽收' },
      ]),
      'N',
      TZ,
    );
    expect(r.kind === 'ok' && r.events.map((e) => e.occurredAt.toISOString())).toEqual(['2021-12-15T02:00:00.000Z', '2021-12-15T12:15:14.000Z']);
    expect(r.kind === 'ok' && r.events[1]!.hub).toBe('苏州转运中心');
  });

  it('NotFound without events → not_found; missing track_info → malformed; Expired → flag', () => {
    expect(parseAcceptedItem(item('NotFound', 'NotFound_Other'), 'N', TZ).kind).toBe('not_found');
    expect(parseAcceptedItem({ number: 'N' }, 'N', TZ).kind).toBe('malformed');
    const r = parseAcceptedItem(item('Expired', 'Expired_Other', [{ time_utc: '2026-11-12T00:00:00Z', description: 'x' }]), 'N', TZ);
    expect(r.kind === 'ok' && r.flags).toEqual(['seventeenTrack:Expired']);
  });
});
