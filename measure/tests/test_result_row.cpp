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

TEST_CASE("every row starts with run_id, date, git_commit, cpu_model, kernel of this host", "[result-row]") {
    const ResultRow row;
    const auto &c = row.columns();
    REQUIRE(c.size() == 5);
    CHECK(c[0].first == "run_id");
    CHECK(c[1].first == "date");
    CHECK(c[2].first == "git_commit");
    CHECK(c[3].first == "cpu_model");
    CHECK(c[4].first == "kernel");
    CHECK(c[0].second == marllb::measure::run_id());
    CHECK(c[1].second.size() == 20); // 2026-11-26T09:39:40Z
    CHECK(c[1].second.back() == 'Z');
    CHECK_FALSE(c[4].second.empty());
    CHECK(c[4].second != "unknown");
}

TEST_CASE("the run id is the UTC start time and the pid, one per process", "[result-row]") {
    const std::string id = marllb::measure::run_id();
    CHECK(id == marllb::measure::run_id());
    if (!std::getenv("MARLLB_RUN_ID")) {
        REQUIRE(id.size() > 17);
        CHECK(id.substr(8, 1) == "T");
        CHECK(id.substr(15, 2) == "Z-");
        CHECK(id.substr(17) == std::to_string(getpid()));
    }
}

TEST_CASE("the git commit is the one built from, unless MARLLB_GIT_COMMIT says otherwise", "[result-row]") {
    setenv("MARLLB_GIT_COMMIT", "abc1234", 1);
    CHECK(marllb::measure::host().git_commit == "abc1234");
    unsetenv("MARLLB_GIT_COMMIT");
    const std::string built = marllb::measure::build_git_commit();
    CHECK(marllb::measure::host().git_commit == built);
    // 12 hex digits, maybe "-dirty"; "unknown" only outside a git checkout
    CHECK((built == "unknown" || built.find_first_not_of("0123456789abcdef") >= 12));
    CHECK((built.size() == 12 || built == "unknown" || built.substr(12) == "-dirty"));
}

TEST_CASE("values are quoted where CSV needs it and numbers printed as %.6g", "[result-row]") {
    ResultRow row(Host{"R", "D", "C", "AMD EPYC 7B13, 2 cores", "6.1"});
    row.add("note", std::string("said \"hi\"")).add("x", 1.0 / 3).add("n", std::uint64_t(42)).add("neg", -5);
    CHECK(row.header() == "run_id,date,git_commit,cpu_model,kernel,note,x,n,neg");
    CHECK(row.line() == "R,D,C,\"AMD EPYC 7B13, 2 cores\",6.1,\"said \"\"hi\"\"\",0.333333,42,0");
}

TEST_CASE("append_to writes the header once and refuses a file of another schema", "[result-row][bad-input]") {
    TempDir dir;
    const auto csv = dir.path / "sub" / "r.csv";
    ResultRow a(Host{"R", "D", "C", "M", "K"});
    a.add("v", std::uint64_t(1));
    REQUIRE(a.append_to(csv.string()));
    REQUIRE(a.append_to(csv.string()));
    CHECK(slurp(csv) == "run_id,date,git_commit,cpu_model,kernel,v\nR,D,C,M,K,1\nR,D,C,M,K,1\n");
    ResultRow b(Host{"R", "D", "C", "M", "K"});
    b.add("w", std::uint64_t(2));
    const auto r = b.append_to(csv.string());
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("another column set") && Catch::Contains("nothing was written"));
    CHECK(slurp(csv) == "run_id,date,git_commit,cpu_model,kernel,v\nR,D,C,M,K,1\nR,D,C,M,K,1\n");
}

TEST_CASE("an output that cannot be written is refused before anything is written, with the system's reason",
          "[result-row][bad-input]") {
    TempDir dir;
    std::filesystem::create_directories(dir.path);
    std::ofstream(dir.path / "file") << "x";
    ResultRow a(Host{"R", "D", "C", "M", "K"});
    a.add("v", std::uint64_t(1));
    for (const auto &bad : {dir.path / "file" / "r.csv", dir.path / "file" / "deeper" / "r.csv"}) {
        INFO(bad.string());
        const auto c = a.check_appendable(bad.string());
        REQUIRE_FALSE(c);
        CHECK_THAT(c.error().message, Catch::Contains(bad.string()) && Catch::Contains("Not a directory"));
        const auto w = a.append_to(bad.string());
        REQUIRE_FALSE(w);
        CHECK_THAT(w.error().message, Catch::Contains("Not a directory"));
        CHECK_FALSE(marllb::measure::check_writable(bad.string()));
    }
    CHECK(slurp(dir.path / "file") == "x");
    CHECK(a.check_appendable((dir.path / "new" / "dirs" / "r.csv").string()));
    CHECK_FALSE(std::filesystem::exists(dir.path / "new")); // a check creates nothing
    const auto d = marllb::measure::check_writable(dir.path.string());
    REQUIRE_FALSE(d); // a directory where a file belongs
    CHECK_THAT(d.error().message, Catch::Contains("is a directory"));
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
