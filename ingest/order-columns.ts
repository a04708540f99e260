import { FLAT_ORDER_COLUMNS } from './order-input.js';

export type OrderColumn = (typeof FLAT_ORDER_COLUMNS)[number];

/**
 * The header names marketplace and ERP order exports use for our CSV columns, so a shop can import an export as
 * downloaded. For each column the names are in order of preference: when an export has several (Taobao has both
 * 联系手机 and 联系电话, the landline that is usually empty), the first one present is read and the others are
 * ignored. Where each name was seen (test/orders-corpus/README.md has the files):
 * - Taobao/Tmall 订单报表 (ExportOrderList): 订单编号, 买家实际支付金额, 订单付款时间 in a real Tmall export
 *   (test/orders-corpus/tmall-order-report-2020-02.csv); 买家会员名, 收货人姓名, 联系手机, 联系电话, 物流单号,
 *   物流公司 in the export's column list as public shop back-ends copy it.
 * - JD 订单导出: 订单号, 下单帐号, 客户姓名, 联系电话, 应付金额, 付款确认时间 (a public JD order parser's list).
 * - Douyin/抖店: 主订单编号, 订单应付金额, 收件人, 收件人手机号, 发货时间 (public parsers' fixtures).
 * - Pinduoduo, Youzan and ERP exports (聚水潭, 旺店通, 快递管家) and shops' own shipping lists: 快递单号, 运单号,
 *   快递公司, 收货人, 收件人, 手机, 支付时间, 付款时间, 实付金额 (real shipping lists in test/orders-corpus use
 *   快递号/快递公司 and 运单编号/货运公司名称).
 * A name belongs to one column only (checked by ingest/order-columns.test.ts).
 */
export const COLUMN_ALIASES: Readonly<Partial<Record<OrderColumn, readonly string[]>>> = {
  orderId: ['订单编号', '订单号', '主订单编号'],
  paidAt: ['订单付款时间', '付款确认时间', '付款时间', '支付时间'],
  amount: ['买家实际支付金额', '订单应付金额', '应付金额', '实付金额'],
  customerName: ['收货人姓名', '收货人', '收件人', '客户姓名'],
  customerPhone: ['联系手机', '收件人手机号', '收货人手机号', '手机', '联系电话'],
  customerHandle: ['买家会员名', '下单帐号', '买家昵称'],
  carrier: ['物流公司', '快递公司', '货运公司名称'],
  trackingNo: ['物流单号', '快递单号', '运单号', '运单编号', '快递号'],
  markedShippedAt: ['发货时间'],
};

const ALIAS_OF = new Map<string, OrderColumn>();
for (const [column, names] of Object.entries(COLUMN_ALIASES) as [OrderColumn, readonly string[]][]) {
  for (const n of names) ALIAS_OF.set(n, column);
}

const TIME_COLUMNS: ReadonlySet<OrderColumn> = new Set(['paidAt', 'promisedShipBy', 'markedShippedAt']);

/** How a file's header maps onto FLAT_ORDER_COLUMNS. */
export interface ResolvedHeader {
  /** Per FLAT_ORDER_COLUMNS column, the index of the file column read for it (-1: none). */
  col: number[];
  /** The header as the schema's flat row names it: our column name where one is read, '' elsewhere. */
  canonical: string[];
  /** File columns named as an export names them whose date-times are China time without an offset. */
  chinaTime: number[];
  /** Our column → the export's name for it, for messages (only columns read through an alias). */
  exportNames: Partial<Record<OrderColumn, string>>;
  /** Why the file cannot be imported; empty when it can. */
  problems: string[];
}

/** Columns a CSV import cannot do without; the others may be left out (empty). */
const REQUIRED_COLUMNS: readonly OrderColumn[] = ['orderId', 'paidAt'];

/**
 * Map a header onto our columns. Our own names are matched exactly, as before: in a file that uses only them an
 * unknown column is a problem (a typo such as `trackingNumber` would silently drop every parcel). A header that
 * names any column as an export does is an export: its other columns (宝贝标题, 收货地址, …) are not ours and are
 * ignored. Names are compared without surrounding blanks: Taobao writes `订单付款时间 ` with a trailing space.
 * Our own name wins over an export's; among an export's names the first in COLUMN_ALIASES' order wins.
 */
export function resolveHeader(header: readonly string[]): ResolvedHeader {
  const names = header.map((h) => h.trim());
  const known: ReadonlySet<string> = new Set(FLAT_ORDER_COLUMNS);
  const isExport = names.some((n) => ALIAS_OF.has(n));
  const problems: string[] = [];
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i && (known.has(n) || ALIAS_OF.has(n))) problems.push(`column ${i + 1} ${JSON.stringify(n)} is named twice`);
    else if (!isExport && !known.has(n)) problems.push(`column ${i + 1} ${JSON.stringify(n)} is not one of ${FLAT_ORDER_COLUMNS.join(', ')} (nor a marketplace export's name for one)`);
  });
  const exportNames: Partial<Record<OrderColumn, string>> = {};
  const chinaTime: number[] = [];
  const col = FLAT_ORDER_COLUMNS.map((c) => {
    const own = names.indexOf(c);
    if (own !== -1) return own;
    for (const alias of COLUMN_ALIASES[c] ?? []) {
      const i = names.indexOf(alias);
      if (i === -1) continue;
      exportNames[c] = alias;
      if (TIME_COLUMNS.has(c)) chinaTime.push(i);
      return i;
    }
    return -1;
  });
  const canonical = names.map(() => '');
  FLAT_ORDER_COLUMNS.forEach((c, k) => {
    if (col[k]! !== -1) canonical[col[k]!] = c;
  });
  const has = (c: OrderColumn) => col[FLAT_ORDER_COLUMNS.indexOf(c)]! !== -1;
  for (const c of REQUIRED_COLUMNS) {
    if (!has(c)) problems.push(`column ${c} is missing${COLUMN_ALIASES[c] ? ` (or ${COLUMN_ALIASES[c]!.join(', ')})` : ''}`);
  }
  if (has('carrier') !== has('trackingNo')) problems.push('columns carrier and trackingNo go together');
  return { col, canonical, chinaTime, exportNames, problems };
}

const CHINA_LOCAL = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const pad = (s: string) => s.padStart(2, '0');

/**
 * A marketplace export's date-time as ISO-8601 with China's offset: Taobao, JD, Pinduoduo and Douyin write Beijing
 * wall time without an offset (`2020-02-21 00:00:02`), and Excel re-saves it as `2020/2/21 0:00`. Anything else
 * (blank, an offset already given, a date without a time) is returned as is and judged by the usual rules, so a
 * payment day without its time is refused rather than guessed at midnight. China has kept UTC+8 all year since 1991.
 */
export function chinaTimeToIso(v: string): string {
  const m = CHINA_LOCAL.exec(v.trim());
  if (!m) return v;
  return `${m[1]}-${pad(m[2]!)}-${pad(m[3]!)}T${pad(m[4]!)}:${m[5]}:${m[6] ?? '00'}+08:00`;
}

/** The flat column a validation message's field path names (customer.name → customerName, shipments.0.trackingNo → trackingNo). */
function flatColumnOf(path: string): OrderColumn | null {
  const p = path.replace(/^shipments\.\d+\./, '').replace(/^customer\.(\w)/, (_, c: string) => `customer${c.toUpperCase()}`);
  return (FLAT_ORDER_COLUMNS as readonly string[]).includes(p) ? (p as OrderColumn) : null;
}

/**
 * A refusal reason ("paidAt: is required; amount: …") with the export's own column name beside ours, so a shop
 * sees which column of its file is meant: "paidAt (订单付款时间): …".
 */
export function withExportNames(reason: string, exportNames: Partial<Record<OrderColumn, string>>): string {
  return reason.replace(/(^|; )([\w.]+):/g, (whole, sep: string, path: string) => {
    const c = flatColumnOf(path);
    const name = c ? exportNames[c] : undefined;
    return name ? `${sep}${path} (${name}):` : whole;
  });
}
