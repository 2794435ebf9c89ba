// One result row: the host metadata block (host.hpp: date, git commit, CPU model, kernel)
// followed by the run's named values, appended to a CSV whose header it writes when the file
// is new. A file with a different header is refused, never mixed.
#pragma once

#include "marllb/measure/host.hpp"

#include <marllb/shm.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace marllb::measure {

class ResultRow {
public:
    ResultRow();                          // the metadata columns of host()
    explicit ResultRow(const Host &h);    // the metadata columns of h
    ResultRow &add(std::string name, std::string value);
    ResultRow &add(std::string name, const char *value) { return add(std::move(name), std::string(value)); }
    ResultRow &add(std::string name, double value); // %.6g
    ResultRow &add(std::string name, std::uint64_t value);
    ResultRow &add(std::string name, int value) { return add(std::move(name), std::uint64_t(value < 0 ? 0 : value)); }
    // Appends the row to the CSV at path (its directory is created). Fails, writing nothing,
    // when the file's header names other columns, or when the file cannot be written.
    [[nodiscard]] shm::Expected<void> append_to(const std::string &path) const;
    // What append_to checks before it writes: fails when the CSV at path exists with another
    // header. A program whose run is long checks this first, so a bad --csv loses no run.
    [[nodiscard]] shm::Expected<void> check_appendable(const std::string &path) const;
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>> &columns() const noexcept { return cols_; }
    [[nodiscard]] std::string header() const;
    [[nodiscard]] std::string line() const; // the values, quoted where CSV needs it

private:
    std::vector<std::pair<std::string, std::string>> cols_;
};

} // namespace marllb::measure
