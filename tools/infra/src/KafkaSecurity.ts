/**
 * What makes a local broker a secured one (`LocalKafka.start({ security: "sasl_ssl" })`): a CA,
 * a broker and a client certificate made here with openssl, SCRAM-SHA-512 users written into the
 * metadata log when the storage is formatted, and the endpoint clients need (brokers, CA file,
 * user, password file; the mutual-TLS port, client certificate and key). Passwords and keys live
 * only in files of mode 0600, never on a command line.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import type { KafkaConfig } from "kafkajs"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Exec from "./Exec.js"

export class KafkaSecurityError extends Data.TaggedError("KafkaSecurityError")<{
  readonly message: string
}> {}

/** Where and as whom a client reaches the secured broker: SASL_SSL, SCRAM-SHA-512. */
export interface SecureEndpoint {
  /** Bootstrap servers, e.g. `127.0.0.1:39093`. */
  readonly brokers: string
  /** PEM of the CA that signed the broker's certificate (SAN 127.0.0.1 and localhost). */
  readonly caFile: string
  readonly username: string
  /** A file (mode 0600) holding the password and a newline. */
  readonly passwordFile: string
  /**
   * Bootstrap servers of the broker's second client listener, mutual TLS: no SASL, a client
   * certificate its CA signed is the login (`ssl.client.auth=required`).
   */
  readonly mtlsBrokers: string
  /** A client certificate the CA signed (PEM), and its key (PKCS#8, mode 0600). */
  readonly certFile: string
  readonly keyFile: string
}

/** The client user tests and tools log in as. */
export const clientUser = "spark-etl"
// The broker's own user, for its inter-broker connections on the same listener.
const adminUser = "admin"
const mechanism = "SCRAM-SHA-512"
// Renewed when it would expire within this many seconds: a state dir may outlive a certificate.
const renewWithin = 7 * 24 * 3600
const validDays = 365

/** The files a secured broker needs, under its data dir. */
export interface Material {
  readonly caFile: string
  /** Private key (PKCS#8) then the certificate chain: a keystore of type PEM. */
  readonly keystoreFile: string
  readonly clientCertFile: string
  readonly clientKeyFile: string
  readonly clientPasswordFile: string
  readonly adminPassword: Redacted.Redacted<string>
  readonly clientPassword: Redacted.Redacted<string>
  /**
   * True when the passwords were made just now: the SCRAM users of any earlier storage do not
   * know them, so the storage must be formatted afresh.
   */
  readonly freshPasswords: boolean
}

const readPassword = (file: string): string => fs.readFileSync(file, "utf8").trim()

// base64url: no character that a properties file, a JAAS string or a java @argfile would treat
// specially.
const newPassword = (file: string): void =>
  fs.writeFileSync(file, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 })

/** Runs openssl to its end; its output is only read when it fails (keys never reach it). */
const openssl = (args: ReadonlyArray<string>) =>
  Exec.toEnd("openssl", args).pipe(
    Effect.mapError(
      (e) =>
        new KafkaSecurityError({
          message: `cannot run openssl (apt-get install -y openssl): ${e.message}`
        })
    )
  )

const opensslOk = (what: string, args: ReadonlyArray<string>) =>
  openssl(args).pipe(
    Effect.flatMap((finished) =>
      finished.exitCode === 0
        ? Effect.void
        : Effect.fail(new KafkaSecurityError({ message: `openssl ${what} failed: ${Exec.said(finished)}` }))
    )
  )

// EC P-256 keys: made in milliseconds, and Kafka's PEM keystore reads EC keys.
const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

// A key and a certificate signed by the CA, with the given extensions: writes
// `<name>.key` (PKCS#8: `req -new -newkey` writes that form, the one Kafka reads) and `<name>.crt`.
const signed = (
  dir: string,
  name: string,
  subject: string,
  caFile: string,
  caKey: string,
  extensions: string
) =>
  Effect.gen(function* () {
    const key = path.join(dir, `${name}.key`)
    const csr = path.join(dir, `${name}.csr`)
    const ext = path.join(dir, `${name}.ext`)
    yield* opensslOk(`making the ${name}'s key`, [
      "req",
      "-new",
      ...ecKey,
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      subject
    ])
    fs.chmodSync(key, 0o600)
    fs.writeFileSync(ext, extensions)
    yield* opensslOk(`signing the ${name}'s certificate`, [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caFile,
      "-CAkey",
      caKey,
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      String(validDays),
      "-extfile",
      ext,
      "-out",
      path.join(dir, `${name}.crt`)
    ])
    for (const f of [csr, ext]) fs.rmSync(f, { force: true })
  })

const makeCertificates = (dir: string, caFile: string, keystoreFile: string) =>
  Effect.gen(function* () {
    const caKey = path.join(dir, "ca.key")
    yield* opensslOk("making the CA", [
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      caKey,
      "-out",
      caFile,
      "-days",
      String(validDays),
      "-subj",
      "/CN=spark-etl test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    ])
    // Clients check the address they dialled (127.0.0.1) against the SAN, not the CN.
    yield* signed(
      dir,
      "broker",
      "/CN=localhost",
      caFile,
      caKey,
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth,clientAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ""
      ].join("\n")
    )
    yield* signed(
      dir,
      "client",
      `/CN=${clientUser}`,
      caFile,
      caKey,
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=clientAuth",
        ""
      ].join("\n")
    )
    fs.writeFileSync(
      keystoreFile,
      ["broker.key", "broker.crt", "ca.pem"].map((f) => fs.readFileSync(path.join(dir, f), "utf8")).join(""),
      { mode: 0o600 }
    )
  })

/**
 * A self-signed client certificate and its key in `dir` (`stranger.crt`, `stranger.key`): one
 * the harness's CA did not sign, for tests that show the mutual-TLS port refuses it.
 */
export const strangerCertificate = (
  dir: string
): Effect.Effect<
  { readonly certFile: string; readonly keyFile: string },
  KafkaSecurityError,
  ChildProcessSpawner.ChildProcessSpawner
> =>
  Effect.gen(function* () {
    const certFile = path.join(dir, "stranger.crt")
    const keyFile = path.join(dir, "stranger.key")
    yield* opensslOk("making a stranger's certificate", [
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=stranger"
    ])
    fs.chmodSync(keyFile, 0o600)
    return { certFile, keyFile }
  })

/**
 * The CA, the broker's keystore and the two users' passwords in `dir` (mode 0700): made when
 * missing, kept otherwise (a restart keeps its clients' CA and passwords); certificates near
 * their end are made afresh.
 */
export const prepare = (
  dir: string
): Effect.Effect<Material, KafkaSecurityError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.gen(function* () {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    fs.chmodSync(dir, 0o700)
    const caFile = path.join(dir, "ca.pem")
    const keystoreFile = path.join(dir, "broker-keystore.pem")
    const clientCertFile = path.join(dir, "client.crt")
    const clientKeyFile = path.join(dir, "client.key")
    const adminPasswordFile = path.join(dir, "admin.password")
    const clientPasswordFile = path.join(dir, "client.password")
    const freshPasswords = !fs.existsSync(adminPasswordFile) || !fs.existsSync(clientPasswordFile)
    if (freshPasswords) {
      newPassword(adminPasswordFile)
      newPassword(clientPasswordFile)
    }
    const lasts = (file: string) =>
      Effect.map(
        openssl(["x509", "-noout", "-checkend", String(renewWithin), "-in", file]),
        (f) => f.exitCode === 0
      )
    // A state dir made before the client certificate existed gets every certificate afresh.
    const current =
      [caFile, keystoreFile, clientCertFile, clientKeyFile].every((f) => fs.existsSync(f)) &&
      (yield* lasts(keystoreFile)) &&
      (yield* lasts(clientCertFile))
    if (!current) yield* makeCertificates(dir, caFile, keystoreFile)
    return {
      caFile,
      keystoreFile,
      clientCertFile,
      clientKeyFile,
      clientPasswordFile,
      adminPassword: Redacted.make(readPassword(adminPasswordFile)),
      clientPassword: Redacted.make(readPassword(clientPasswordFile)),
      freshPasswords
    }
  })

/**
 * The broker's listeners: SASL_SSL with SCRAM-SHA-512 for clients and for its own inter-broker
 * traffic; MTLS, TLS whose login is a client certificate the CA signed; the KRaft controller on
 * plain TCP (it answers controller requests only, and only on loopback). No listener lets a
 * client produce without TLS and a login.
 */
export const listenerProperties = (
  port: number,
  mtlsPort: number,
  controllerPort: number,
  material: Material
): ReadonlyArray<string> => [
  `listeners=SASL_SSL://127.0.0.1:${port},MTLS://127.0.0.1:${mtlsPort},CONTROLLER://127.0.0.1:${controllerPort}`,
  `advertised.listeners=SASL_SSL://127.0.0.1:${port},MTLS://127.0.0.1:${mtlsPort}`,
  "controller.listener.names=CONTROLLER",
  "inter.broker.listener.name=SASL_SSL",
  "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
  `sasl.enabled.mechanisms=${mechanism}`,
  `sasl.mechanism.inter.broker.protocol=${mechanism}`,
  // The broker's own login: this file is written with mode 0600.
  `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${adminUser}" password="${Redacted.value(material.adminPassword)}";`,
  // PEM stores (Kafka >= 2.7): no keytool, no store password.
  "ssl.keystore.type=PEM",
  `ssl.keystore.location=${material.keystoreFile}`,
  "ssl.truststore.type=PEM",
  `ssl.truststore.location=${material.caFile}`,
  "ssl.client.auth=none",
  // On MTLS the certificate is the login: none, or one the CA did not sign, fails the handshake.
  "listener.name.mtls.ssl.client.auth=required"
]

/**
 * `kafka-storage format` options that create both users in the metadata log. They go into a
 * java @argfile (mode 0600), never onto the command line.
 */
export const scramArguments = (material: Material): ReadonlyArray<string> => {
  const users: ReadonlyArray<readonly [string, Redacted.Redacted<string>]> = [
    [adminUser, material.adminPassword],
    [clientUser, material.clientPassword]
  ]
  return users.flatMap(([name, password]) => [
    "--add-scram",
    `${mechanism}=[name=${name},password=${Redacted.value(password)}]`
  ])
}

/** kafkajs options for the endpoint: TLS checked against its CA, SCRAM login from its password file. */
export const kafkajsOptions = (endpoint: SecureEndpoint): Pick<KafkaConfig, "ssl" | "sasl"> => ({
  ssl: { ca: [fs.readFileSync(endpoint.caFile, "utf8")] },
  sasl: {
    mechanism: "scram-sha-512",
    username: endpoint.username,
    password: readPassword(endpoint.passwordFile)
  }
})

/** The variables `infra run` exports and the harness reads back (no password: only its file). */
export const toEnv = (endpoint: SecureEndpoint): Record<string, string> => ({
  KAFKA_SECURE_BROKERS: endpoint.brokers,
  KAFKA_SECURE_CA_FILE: endpoint.caFile,
  KAFKA_SECURE_USER: endpoint.username,
  KAFKA_SECURE_PASSWORD_FILE: endpoint.passwordFile,
  KAFKA_SECURE_MTLS_BROKERS: endpoint.mtlsBrokers,
  KAFKA_SECURE_CERT_FILE: endpoint.certFile,
  KAFKA_SECURE_KEY_FILE: endpoint.keyFile
})

/** The endpoint named by KAFKA_SECURE_BROKERS and its companions, if KAFKA_SECURE_BROKERS is set. */
export const fromEnv = (
  env: Readonly<Record<string, string | undefined>>
): SecureEndpoint | KafkaSecurityError | undefined => {
  const brokers = env["KAFKA_SECURE_BROKERS"]
  if (!brokers) return undefined
  const caFile = env["KAFKA_SECURE_CA_FILE"]
  const username = env["KAFKA_SECURE_USER"]
  const passwordFile = env["KAFKA_SECURE_PASSWORD_FILE"]
  const mtlsBrokers = env["KAFKA_SECURE_MTLS_BROKERS"]
  const certFile = env["KAFKA_SECURE_CERT_FILE"]
  const keyFile = env["KAFKA_SECURE_KEY_FILE"]
  if (!caFile || !username || !passwordFile || !mtlsBrokers || !certFile || !keyFile)
    return new KafkaSecurityError({
      message:
        "KAFKA_SECURE_BROKERS is set, so KAFKA_SECURE_CA_FILE, _USER, _PASSWORD_FILE, _MTLS_BROKERS, _CERT_FILE and _KEY_FILE must be too"
    })
  for (const file of [caFile, passwordFile, certFile, keyFile])
    if (!fs.existsSync(file))
      return new KafkaSecurityError({ message: `${file} (from KAFKA_SECURE_*) does not exist` })
  return { brokers, caFile, username, passwordFile, mtlsBrokers, certFile, keyFile }
}
