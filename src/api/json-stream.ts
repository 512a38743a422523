/**
 * A JSON array written as it is read, in chunks of about 64 KB, so memory does not grow with the list.
 * `open` and `close` put it inside an object (`{"events":[…],"next_cursor":…}`); `close` is called once the
 * items are read, so it can say what reading them found. Nothing is sent before the first chunk is full, so
 * an error while reading the first items is still answered as an error.
 */
export async function* jsonArray<T>(
  items: AsyncIterable<T>,
  serialize: (item: T) => string,
  around: { open?: string; close?: () => string } = {},
): AsyncGenerator<string> {
  let chunk = `${around.open ?? ''}[`;
  let first = true;
  for await (const item of items) {
    chunk += first ? serialize(item) : `,${serialize(item)}`;
    first = false;
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  yield `${chunk}]${around.close?.() ?? ''}`;
}
