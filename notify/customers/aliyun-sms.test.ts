import { describe, expect, it } from 'vitest';
import { aliyunTimestamp, canonicalQuery, normalizeMainlandMobile, percentEncode, rpcSignature } from './aliyun-sms.js';

describe('Alibaba Cloud RPC signature v1', () => {
  // The worked example of Alibaba Cloud's "RPC signature mechanism" page (ECS DescribeRegions, testid/testsecret).
  const docParams = {
    AccessKeyId: 'testid',
    Action: 'DescribeRegions',
    Format: 'XML',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
    SignatureVersion: '1.0',
    Timestamp: '2016-02-23T12:46:24Z',
    Version: '2014-05-26',
  };

  it('matches the documented example', () => {
    expect(canonicalQuery(docParams)).toBe(
      'AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26',
    );
    expect(rpcSignature('GET', docParams, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it('percent-encodes the Alibaba way', () => {
    expect(percentEncode("a b*c~d!'()")).toBe('a%20b%2Ac~d%21%27%28%29');
    expect(percentEncode('中')).toBe('%E4%B8%AD');
    expect(percentEncode('{"hub":"杭州"}')).toBe('%7B%22hub%22%3A%22%E6%9D%AD%E5%B7%9E%22%7D');
  });

  it('formats the timestamp without milliseconds', () => {
    expect(aliyunTimestamp(new Date('2026-11-12T02:30:00.123Z'))).toBe('2026-11-12T02:30:00Z');
  });

  it('normalises mainland mobile numbers', () => {
    expect(normalizeMainlandMobile('+86 138-0013-8000')).toBe('13800138000');
    expect(normalizeMainlandMobile('8613800138000')).toBe('13800138000');
    expect(normalizeMainlandMobile('021-12345678')).toBeNull();
  });
});
