/**
 * What an event must never carry out of the process: unbounded text and anything that looks
 * like a secret. Core masks the secrets it knows (declared secret parameters, their values in
 * messages); this is the second line of defence, by name and by shape, for engine messages that
 * echo a connection string or a bad parameter. It masks with core's text, so every secret a run
 * hides reads the same wherever it shows.
 */
import { type Event, Parameter } from "@spark-etl/core"

// Parameter names that announce a secret.
const secretName = /pass(word|wd)?|pwd|secret|token|credential|api[-_]?key|private[-_]?key|auth/i

// key=value / key: value with a secret-looking key, and user:password@ in URLs.
const secretAssignment =
  /\b([\w.-]*(?:pass(?:word|wd)?|pwd|secret|token|credential|api[-_]?key|private[-_]?key)[\w.-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&)"']+)/gi
const urlUserInfo = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):([^\s@/]+)@/gi

/** Hides secret-looking values inside free text. */
const redactText = (text: string): string =>
  text
    .replace(secretAssignment, (_m, key: string, sep: string) => `${key}${sep}${Parameter.masked}`)
    .replace(urlUserInfo, (_m, user: string) => `${user}:${Parameter.masked}@`)

/** Cuts text to at most `maxBytes` UTF-8 bytes, saying how much was cut. */
const truncateBytes = (text: string, maxBytes: number): string => {
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
      secretName.test(k) ? Parameter.masked : bound(v, maxDetailBytes)
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
