/**
 * YAML with positions, as the batch file is read: the value, and the line and column of any
 * node for an issue message (`file:line:column`). For other files a command reads the same way
 * (the CLI's site config), so every YAML file of spark-etl is parsed and reported alike.
 *
 * @example
 * const source = YamlSource.read(text, "/etc/spark-etl/config.yaml")
 * if (Result.isSuccess(source)) source.success.position(["kafka", "brokers"]) // { line: 3, column: 12 }
 */
export { read, type Source } from "./internal/source.js"
