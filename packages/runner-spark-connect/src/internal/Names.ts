/**
 * Repeated column and struct-field names, which rows keyed by name cannot hold. Spark keeps
 * repeated top-level names in its Arrow batches but renames repeated struct fields there (`a`,
 * `a` become `a_0`, `a_1`), so struct fields are checked on Spark's own schema when we have it.
 */
import type { Field } from "apache-arrow"
import { Type } from "apache-arrow"
import type { DataType } from "../generated/spark/connect/types_pb.js"

/** A path of names from a column down to a repeated one: `["s", "element", "a"]`. */
export type Path = ReadonlyArray<string>

const repeated = (names: ReadonlyArray<string>): string | undefined => {
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) return name
    seen.add(name)
  }
  return undefined
}

/** The first repeated name within one struct of a Spark type (the schema is a struct). */
export const inSparkType = (type: DataType | undefined, path: Path = []): Path | undefined => {
  const kind = type?.kind
  switch (kind?.case) {
    case "struct": {
      const name = repeated(kind.value.fields.map((f) => f.name))
      if (name !== undefined) return [...path, name]
      for (const f of kind.value.fields) {
        const found = inSparkType(f.dataType, [...path, f.name])
        if (found !== undefined) return found
      }
      return undefined
    }
    case "array":
      return inSparkType(kind.value.elementType, [...path, "element"])
    case "map":
      return (
        inSparkType(kind.value.keyType, [...path, "key"]) ??
        inSparkType(kind.value.valueType, [...path, "value"])
      )
    default:
      return undefined
  }
}

const childrenOf = (type: Field["type"]): ReadonlyArray<Field> =>
  (type as { children?: ReadonlyArray<Field> }).children ?? []

const inArrowType = (type: Field["type"], path: Path): Path | undefined => {
  switch (type.typeId) {
    case Type.Struct:
      return inArrowFields(childrenOf(type), path)
    case Type.Map: {
      // A map's one child is its entries struct (key, value).
      const [key, value] = childrenOf(childrenOf(type)[0]!.type)
      return (
        (key && inArrowType(key.type, [...path, "key"])) ??
        (value && inArrowType(value.type, [...path, "value"]))
      )
    }
    case Type.List:
    case Type.FixedSizeList:
      return inArrowType(childrenOf(type)[0]!.type, [...path, "element"])
    default:
      return undefined
  }
}

/** The first repeated name among Arrow fields or within their structs, lists and maps. */
export const inArrowFields = (fields: ReadonlyArray<Field>, path: Path = []): Path | undefined => {
  const name = repeated(fields.map((f) => f.name))
  if (name !== undefined) return [...path, name]
  for (const f of fields) {
    const found = inArrowType(f.type, [...path, f.name])
    if (found !== undefined) return found
  }
  return undefined
}

/** Spark's rendering of a column path: `` `s`.`a` ``. */
export const quoted = (path: Path): string => path.map((n) => `\`${n.replaceAll("`", "``")}\``).join(".")
