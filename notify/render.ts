export type TemplateVars = Record<string, string | number | null | undefined>;

/** Shown when a placeholder has no value, so a sentence never reads as if a word was swallowed. */
export const MISSING_VALUE = '—';

/**
 * Fill `{name}` placeholders. Unknown names are rejected at config load (config/schema.ts `template()`),
 * so here a missing or null value renders as {@link MISSING_VALUE}; this function never throws.
 */
export function renderTemplate(template: string, vars: TemplateVars, missing: string = MISSING_VALUE): string {
  return template.replace(/\{(\w+)\}/g, (_whole, name: string) => {
    const value = Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;
    if (value === null || value === undefined) return missing;
    if (typeof value === 'number') return Number.isFinite(value) ? String(value) : missing;
    return value === '' ? missing : value;
  });
}
