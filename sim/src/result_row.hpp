// One result row: the metadata block every result carries (date, git commit, CPU model,
// kernel) followed by the run's named values, appended to a CSV whose header it writes when
// the file is new. A file with a different header is refused, never mixed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <marllb/shm.hpp>

namespace marllb::sim {

class ResultRow {
public:
    ResultRow(); // fills the metadata columns
    ResultRow &add(std::string name, std::string value);
    ResultRow &add(std::string name, double value);
    ResultRow &add(std::string name, std::uint64_t value);
    ResultRow &add(std::string name, int value) { return add(std::move(name), std::uint64_t(value < 0 ? 0 : value)); }
    [[nodiscard]] shm::Expected<void> append_to(const std::string &path) const;
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>> &columns() const noexcept { return cols_; }

private:
    std::vector<std::pair<std::string, std::string>> cols_;
};

// "key: value" of the first matching line of a /proc-style file, or "unknown".
[[nodiscard]] std::string proc_field(const char *path, const char *key);

} // namespace marllb::sim
