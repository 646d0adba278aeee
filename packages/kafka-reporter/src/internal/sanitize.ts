/**
 * What an event must never carry out of the process: unbounded text and anything that looks
 * like a secret. Core never puts secrets in parameters; this is the second line of defence,
 * for engine messages that echo a connection string or a bad parameter.
 */
import type { Event } from "@spark-etl/core"

const redacted = "<redacted>"

// Parameter names that announce a secret.
const secretName = /pass(word|wd)?|pwd|secret|token|credential|api[-_]?key|private[-_]?key|auth/i

// key=value / key: value with a secret-looking key, and user:password@ in URLs.
const secretAssignment =
  /\b([\w.-]*(?:pass(?:word|wd)?|pwd|secret|token|credential|api[-_]?key|private[-_]?key)[\w.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&)"']+)/gi
const urlUserInfo = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):([^\s@/]+)@/gi

/** Hides secret-looking values inside free text. */
export const redactText = (text: string): string =>
  text
    .replace(secretAssignment, (_m, key: string, sep: string) => `${key}${sep}${redacted}`)
    .replace(urlUserInfo, (_m, user: string) => `${user}:${redacted}@`)

/** Cuts text to at most `maxBytes` UTF-8 bytes, saying how much was cut. */
export const truncateBytes = (text: string, maxBytes: number): string => {
  const bytes = Buffer.from(text, "utf8")
  if (bytes.length <= maxBytes) return text
  const marker = `…[truncated ${bytes.length - maxBytes} of ${bytes.length} bytes]`
  const keep = Math.max(0, maxBytes - Buffer.byteLength(marker, "utf8"))
  // Decoding a cut buffer may end in a broken character; drop the replacement char it yields.
  return (
    bytes
      .subarray(0, keep)
      .toString("utf8")
      .replace(/\uFFFD$/, "") + marker
  )
}

const bound = (text: string, maxBytes: number) => truncateBytes(redactText(text), maxBytes)

/** The event as it may leave the process: secrets hidden, free text bounded. */
export const sanitize = (event: Event.Event, maxDetailBytes: number): Event.Event => {
  const parameters = Object.fromEntries(
    Object.entries(event.parameters).map(([k, v]) => [
      k,
      secretName.test(k) ? redacted : bound(v, maxDetailBytes)
    ])
  )
  if (event.failure === undefined) return { ...event, parameters }
  const { engineDetail, ...failure } = event.failure
  return {
    ...event,
    parameters,
    failure: {
      ...failure,
      message: bound(failure.message, maxDetailBytes),
      ...(engineDetail === undefined ? {} : { engineDetail: bound(engineDetail, maxDetailBytes) })
    }
  }
}
