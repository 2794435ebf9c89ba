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

// Whether a file could be created or appended to at path, without creating anything: the path
// is no directory, and it exists and opens for appending, or its nearest existing ancestor is a
// directory this process may write into (its missing folders would be created). The error
// names the path and the system's reason ("cannot write 'x/r.csv': Not a directory").
[[nodiscard]] shm::Expected<void> check_writable(const std::string &path);

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
    // header or cannot be written (check_writable). A program whose run is long checks this
    // first, so a bad --csv loses no run.
    [[nodiscard]] shm::Expected<void> check_appendable(const std::string &path) const;
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>> &columns() const noexcept { return cols_; }
    [[nodiscard]] std::string header() const;
    [[nodiscard]] std::string line() const; // the values, quoted where CSV needs it

private:
    std::vector<std::pair<std::string, std::string>> cols_;
};

} // namespace marllb::measure
