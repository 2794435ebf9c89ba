// The result row: host metadata first in one order, CSV quoting, and a file of another
// schema refused with nothing written.
#include "marllb/measure/result_row.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using marllb::measure::Host;
using marllb::measure::ResultRow;

namespace {
std::string slurp(const std::filesystem::path &p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("marllb_measure_" + std::to_string(getpid()));
    TempDir() { std::filesystem::remove_all(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
};
} // namespace

TEST_CASE("every row starts with date, git_commit, cpu_model, kernel of this host", "[result-row]") {
    const ResultRow row;
    const auto &c = row.columns();
    REQUIRE(c.size() == 4);
    CHECK(c[0].first == "date");
    CHECK(c[1].first == "git_commit");
    CHECK(c[2].first == "cpu_model");
    CHECK(c[3].first == "kernel");
    CHECK(c[0].second.size() == 20); // 2026-11-26T09:39:40Z
    CHECK(c[0].second.back() == 'Z');
    CHECK_FALSE(c[3].second.empty());
    CHECK(c[3].second != "unknown");
}

TEST_CASE("the git commit comes from MARLLB_GIT_COMMIT", "[result-row]") {
    setenv("MARLLB_GIT_COMMIT", "abc1234", 1);
    CHECK(marllb::measure::host().git_commit == "abc1234");
    unsetenv("MARLLB_GIT_COMMIT");
    CHECK(marllb::measure::host().git_commit == "unknown");
}

TEST_CASE("values are quoted where CSV needs it and numbers printed as %.6g", "[result-row]") {
    ResultRow row(Host{"D", "C", "AMD EPYC 7B13, 2 cores", "6.1"});
    row.add("note", std::string("said \"hi\"")).add("x", 1.0 / 3).add("n", std::uint64_t(42)).add("neg", -5);
    CHECK(row.header() == "date,git_commit,cpu_model,kernel,note,x,n,neg");
    CHECK(row.line() == "D,C,\"AMD EPYC 7B13, 2 cores\",6.1,\"said \"\"hi\"\"\",0.333333,42,0");
}

TEST_CASE("append_to writes the header once and refuses a file of another schema", "[result-row][bad-input]") {
    TempDir dir;
    const auto csv = dir.path / "sub" / "r.csv";
    ResultRow a(Host{"D", "C", "M", "K"});
    a.add("v", std::uint64_t(1));
    REQUIRE(a.append_to(csv.string()));
    REQUIRE(a.append_to(csv.string()));
    CHECK(slurp(csv) == "date,git_commit,cpu_model,kernel,v\nD,C,M,K,1\nD,C,M,K,1\n");
    ResultRow b(Host{"D", "C", "M", "K"});
    b.add("w", std::uint64_t(2));
    const auto r = b.append_to(csv.string());
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("another column set") && Catch::Contains("nothing was written"));
    CHECK(slurp(csv) == "date,git_commit,cpu_model,kernel,v\nD,C,M,K,1\nD,C,M,K,1\n");
}

TEST_CASE("proc_field reads the value after the colon, or says unknown", "[result-row]") {
    TempDir dir;
    std::filesystem::create_directories(dir.path);
    const auto f = dir.path / "cpuinfo";
    std::ofstream(f) << "processor\t: 0\nmodel name\t: Test CPU @ 1GHz\nmodel name\t: second\n";
    CHECK(marllb::measure::proc_field(f.c_str(), "model name") == "Test CPU @ 1GHz");
    CHECK(marllb::measure::proc_field(f.c_str(), "flags") == "unknown");
    CHECK(marllb::measure::proc_field((dir.path / "none").c_str(), "model name") == "unknown");
}
