import { SseParser, type SseEvent } from './sse';

/** Feeds the chunks one by one, as progress callbacks would, and collects the events after each. */
function feed(chunks: string[], end = true): { perChunk: SseEvent[][]; all: SseEvent[] } {
  const parser = new SseParser();
  const perChunk = chunks.map((c) => parser.push(c));
  const tail = end ? parser.end() : [];
  return { perChunk, all: [...perChunk.flat(), ...tail] };
}

const STREAM =
  'event: message\ndata: {"message":{"_id":"m1"}}\n\n' +
  'event: delta\ndata: {"text":"Hello, "}\n\n' +
  'event: delta\ndata: {"text":"love."}\n\n' +
  'event: done\ndata: {"reply":{"_id":"r1"}}\n\n';

const EXPECTED: SseEvent[] = [
  { event: 'message', data: '{"message":{"_id":"m1"}}' },
  { event: 'delta', data: '{"text":"Hello, "}' },
  { event: 'delta', data: '{"text":"love."}' },
  { event: 'done', data: '{"reply":{"_id":"r1"}}' },
];

/** Cuts a string at the given offsets. */
function cut(text: string, at: number[]): string[] {
  const points = [0, ...at, text.length];
  return points.slice(1).map((end, i) => text.slice(points[i], end));
}

describe('SseParser', () => {
  it.each([
    ['the whole stream in one chunk', [STREAM]],
    ['one character at a time', STREAM.split('')],
    ['split inside a field name', cut(STREAM, [3])],
    ['split inside the JSON of a delta', cut(STREAM, [STREAM.indexOf('Hello') + 2])],
    ['split between the two newlines that end an event', cut(STREAM, [STREAM.indexOf('\n\n') + 1])],
    ['split right after "data:"', cut(STREAM, [STREAM.indexOf('data:') + 5])],
    ['several events in one chunk, then the rest', cut(STREAM, [STREAM.indexOf('event: done')])],
  ])('gives the same events: %s', (_name, chunks) => {
    expect(feed(chunks).all).toEqual(EXPECTED);
  });

  it('gives an event as soon as its blank line arrives, not before', () => {
    const first = 'event: delta\ndata: {"text":"Hi"}\n';
    const { perChunk } = feed([first, '\n', 'event: delta\ndata: {"text":"!"}\n\n'], false);
    expect(perChunk[0]).toEqual([]);
    expect(perChunk[1]).toEqual([{ event: 'delta', data: '{"text":"Hi"}' }]);
    expect(perChunk[2]).toEqual([{ event: 'delta', data: '{"text":"!"}' }]);
  });

  it('reads \\r\\n line endings, even when a chunk ends between \\r and \\n', () => {
    const crlf = STREAM.replace(/\n/g, '\r\n');
    const at = crlf.indexOf('\r\n') + 1; // after the first \r
    expect(feed(cut(crlf, [at])).all).toEqual(EXPECTED);
    expect(feed(crlf.split('')).all).toEqual(EXPECTED);
  });

  it('reads an error event', () => {
    const stream = 'event: delta\ndata: {"text":"Well"}\n\nevent: error\ndata: {"success": false, "error": "language_model_error", "message": "The model failed."}\n\n';
    expect(feed(cut(stream, [10, 40])).all).toEqual([
      { event: 'delta', data: '{"text":"Well"}' },
      { event: 'error', data: '{"success": false, "error": "language_model_error", "message": "The model failed."}' },
    ]);
  });

  it('finds no events in a JSON answer (the caller then reads it as JSON)', () => {
    const json = JSON.stringify({ success: true, message: { _id: 'm1' }, reply: { _id: 'r1', content: 'Hi' } });
    expect(feed(cut(json, [5, 20])).all).toEqual([]);
  });

  it('ignores comments, id and retry; joins data lines; names unnamed events "message"', () => {
    const stream = ': keep-alive\n\nid: 7\nretry: 1000\ndata: one\ndata: two\n\nevent: delta\ndata:x\n\n';
    expect(feed([stream]).all).toEqual([
      { event: 'message', data: 'one\ntwo' },
      { event: 'delta', data: 'x' },
    ]);
  });

  it('drops an event the stream cut short', () => {
    expect(feed(['event: delta\ndata: {"text":"unfinished"}']).all).toEqual([]);
  });
});
