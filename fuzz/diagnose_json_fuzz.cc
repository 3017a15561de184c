// Fuzzes what `diagnose --from` does with a reply: parse the JSON, judge
// it, render it both ways. Whatever a URL answers, no crash, no UB.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stemedb/diagnose/render.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stemedb::diagnose;
  Numbers numbers;
  Limits limits;
  if (ParseJson(std::string_view(reinterpret_cast<const char*>(data), size),
                &numbers, &limits)) {
    return 0;
  }
  const Report report = Diagnose(numbers, limits);
  (void)RenderText(report);
  (void)RenderJson(report);
  return 0;
}
