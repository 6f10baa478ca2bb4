import * as assert from 'node:assert/strict';
import { DebugOutputParser } from '../../../src/core/debugOutput';
import type { LogRecord } from '../../../src/core/model';
import { TelemetryStore } from '../../../src/core/store/store';
import { resource } from '../helpers/telemetry';

const TRACEBACK = `INFO:     127.0.0.1:5000 - "POST /orders HTTP/1.1" 500 Internal Server Error
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/uvicorn/protocols/http/h11_impl.py", line 407, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
  File "/home/me/shop/app.py", line 38, in create_order
    return {"id": 1, "total": apply_discount(order)}
  File "/home/me/shop/app.py", line 46, in apply_discount
    rate = {"WELCOME10": 0.1}[coupon]
           ~~~~~~~~~~~~~~~~~~^^^^^^^^
KeyError: 'BOGUS'
INFO:     127.0.0.1:5001 - "GET /items/3 HTTP/1.1" 200 OK
`;

function parse(chunks: string[]): LogRecord[] {
  const out: LogRecord[] = [];
  const p = new DebugOutputParser(resource('shop'), (l) => out.push(l), () => 1000);
  for (const c of chunks) p.push(c);
  p.flush();
  return out;
}

describe('DebugOutputParser', () => {
  it('turns a Python traceback into an error record with frames, innermost last', () => {
    const [rec, ...rest] = parse([TRACEBACK]);
    assert.equal(rest.length, 0);
    assert.equal(rec.severity, 'error');
    assert.equal(rec.exception?.type, 'KeyError');
    assert.equal(rec.exception?.message, "'BOGUS'");
    assert.deepEqual(rec.exception?.frames.map((f) => `${f.file}:${f.line}:${f.function}`), [
      '/usr/lib/python3/dist-packages/uvicorn/protocols/http/h11_impl.py:407:run_asgi',
      '/home/me/shop/app.py:38:create_order',
      '/home/me/shop/app.py:46:apply_discount',
    ]);
    assert.deepEqual(rec.code, { file: '/home/me/shop/app.py', line: 46, function: 'apply_discount' });
    assert.equal(rec.body, 'ERROR:    Exception in ASGI application');
  });

  it('gives the same result whatever the chunking', () => {
    const whole = parse([TRACEBACK]);
    const bytes = parse(TRACEBACK.split(''));
    const odd = parse(TRACEBACK.match(/[\s\S]{1,7}/g)!);
    assert.deepEqual(bytes, whole);
    assert.deepEqual(odd, whole);
  });

  it('reads structlog JSON lines, with their exception text', () => {
    const line = JSON.stringify({ event: 'payment failed', level: 'error', pathname: '/home/me/shop/pay.py', lineno: 12, func_name: 'charge', exception: 'Traceback (most recent call last):\n  File "/home/me/shop/pay.py", line 10, in charge\n    x()\nValueError: card declined' });
    const [rec] = parse([line + '\n', JSON.stringify({ event: 'fine', level: 'info' }) + '\n', '{"not": "structlog"}\n']);
    assert.equal(rec.body, 'payment failed');
    assert.deepEqual(rec.code, { file: '/home/me/shop/pay.py', line: 12, function: 'charge' });
    assert.equal(rec.exception?.type, 'ValueError');
    assert.equal(rec.exception?.message, 'card declined');
    assert.equal(parse([line + '\n', JSON.stringify({ event: 'fine', level: 'info' }) + '\n']).length, 2);
  });

  it('ignores ordinary output and survives garbage', () => {
    assert.deepEqual(parse(['hello\n', '{broken json}\n', 'Traceback (most recent call last):\nnot a frame\n', '\u0000\u0001\n']), []);
  });

  it('is not counted twice when the agent reported the same failure just before', () => {
    const store = new TelemetryStore();
    const [rec] = parse([TRACEBACK]);
    store.addLogs([{ ...rec, attributes: {} }]);
    store.addLogs([rec]);
    assert.equal(store.errorGroups()[0].count, 1);
  });
});
