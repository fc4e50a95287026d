// A small streaming JSON writer for the tool's --json output: objects, arrays,
// strings, numbers, booleans and null, pretty-printed, with correct escaping.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace ktls::tool {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}
  // Ends the document with a newline; the caller must have closed every container.
  ~JsonWriter();

  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();

  // Names the next value; only inside an object.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  // Non-finite numbers have no JSON form and are written as null.
  JsonWriter& Number(double value);
  JsonWriter& Integer(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

 private:
  struct Level {
    bool is_object;
    size_t count;
  };
  // Writes the comma and indentation a value (or a key) needs at this point.
  void BeforeValue();
  void WriteEscaped(std::string_view text);
  void NewLine();

  std::ostream& out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace ktls::tool
