// Strict reading of a yaml-cpp node tree into typed values, with errors that
// name the file, position and dotted key path. Private to the config unit.
//
// Thread safety: a YamlReader is used by one thread; separate instances are
// independent.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stemedb/config/config.h"

namespace stemedb::detail {

// Where a value sits in the document. `mark` is yaml-cpp's (0-based).
struct Where {
  std::string path;
  YAML::Mark mark;

  // The child `key` of this map, at the given position.
  Where Child(std::string_view key, const YAML::Mark& at) const;
};

// The closest candidate within edit distance 2 of `word`, or "" if none.
std::string ClosestMatch(std::string_view word,
                         const std::vector<std::string_view>& candidates);

class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  // An error at `where`; the position is omitted when the mark is unknown.
  ConfigError Error(const Where& where, std::string message) const;

  // A known key of a mapping and how its value is read.
  struct Field {
    std::string_view key;
    std::function<Status(const YAML::Node& value, const Where& where)> read;
  };

  // Reads a mapping whose keys are fixed: a key outside `fields` is an error
  // (with a suggestion when one is close), as is a duplicate key. A null node
  // (a section written with nothing under it) reads as an empty mapping.
  Status ReadMap(const YAML::Node& node, const Where& where,
                 const std::vector<Field>& fields);

  // Reads a mapping whose keys are chosen by the user (component names,
  // label names): checks that keys are scalars and unique, then calls `entry`
  // for each pair in file order with the key's position.
  using EntryFn =
      std::function<Status(const std::string& key, const Where& key_where,
                           const YAML::Node& value, const Where& value_where)>;
  Status ReadEntries(const YAML::Node& node, const Where& where,
                     const EntryFn& entry);

  // Reads a list: calls `item` for each element in order, at path
  // "where.path[i]" (0-based). A null node reads as an empty list.
  using ItemFn =
      std::function<Status(const YAML::Node& item, const Where& item_where)>;
  Status ReadList(const YAML::Node& node, const Where& where,
                  const ItemFn& item);

  Status ReadString(const YAML::Node& node, const Where& where,
                    std::string* out, bool allow_empty = false);
  // Only the words true and false: YAML 1.1's yes/no/on/off are typos here.
  Status ReadBool(const YAML::Node& node, const Where& where, bool* out);
  // `max_why`, when given, is added to the message of a value too large.
  Status ReadInt(const YAML::Node& node, const Where& where, int64_t min,
                 int64_t max, int64_t* out, std::string_view max_why = "");
  // A number strictly between 0 and 1.
  Status ReadRatio(const YAML::Node& node, const Where& where, double* out);
  // A Prometheus duration; with `positive`, 0 is refused too.
  Status ReadDuration(const YAML::Node& node, const Where& where, bool positive,
                      Duration* out);

  // The position of a value read so far, for rules that relate two keys.
  std::optional<YAML::Mark> MarkOf(const std::string& path) const;
  // The position of a key seen so far (e.g. "components.wal").
  std::optional<YAML::Mark> KeyMarkOf(const std::string& path) const;

 private:
  // The scalar's text, or an error saying a `what` was expected. Records the
  // position under where.path.
  Status Scalar(const YAML::Node& node, const Where& where,
                std::string_view what, bool allow_quoted, std::string* out);

  std::string source_;
  std::map<std::string, YAML::Mark> marks_;
  std::map<std::string, YAML::Mark> key_marks_;
};

// "a mapping", "a list", ... for messages.
std::string_view DescribeType(const YAML::Node& node);

// True when `text` holds a second YAML document; *where is then the start of
// its content. For every loader, which then reads the one document with
// YAML::Load. yaml-cpp 0.7's LoadAll never returns on some malformed input
// (e.g. "a: b\n,": it keeps adding empty documents until memory runs out;
// found by fuzz/, fixed upstream in jbeder/yaml-cpp#1319), so documents are
// counted here, at most two, and LoadAll is never used.
bool HasSecondDocument(const std::string& text, YAML::Mark* where);

// Shortest text that reads back as the same double ("0.1", not 0.1000000001).
std::string FormatNumber(double value);

}  // namespace stemedb::detail
