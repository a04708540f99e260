import { describe, expect, it } from 'vitest';
import { renderTemplate } from './render.js';

describe('renderTemplate', () => {
  it('fills placeholders, repeated ones too', () => {
    expect(renderTemplate('{customerName}您好，订单 {orderId}（{orderId}）{hoursLeft} 小时', { customerName: '张三', orderId: 'TB-1', hoursLeft: 5 })).toBe(
      '张三您好，订单 TB-1（TB-1）5 小时',
    );
  });

  it('renders null, undefined, empty and missing values as —', () => {
    expect(renderTemplate('{a}|{b}|{c}|{d}', { a: null, b: undefined, c: '' })).toBe('—|—|—|—');
    expect(renderTemplate('{a}', { a: Number.NaN })).toBe('—');
    expect(renderTemplate('{a}', {}, '')).toBe('');
  });

  it('keeps zero and leaves non-placeholder braces alone', () => {
    expect(renderTemplate('补偿 {x} 元 {not valid} {}', { x: 0 })).toBe('补偿 0 元 {not valid} {}');
  });

  it('does not read inherited properties', () => {
    expect(renderTemplate('{toString}{constructor}', {})).toBe('——');
  });
});
