/**
 * The console's only template mechanism: a tagged template that escapes every interpolated value unless it
 * is already `Html` (made by this tag). So text from users, applications or error messages can never become
 * markup, and a view cannot forget to escape. Arrays are joined; null, undefined and false render nothing,
 * so `${cond && html`…`}` reads naturally.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Renderable = Html | string | number | boolean | null | undefined | Renderable[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

function render(value: Renderable): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A path segment for a link or form action: any client_id (slashes, spaces, `?`) stays one segment. */
export const segment = (value: string) => encodeURIComponent(value);
