// A region file mapped a second time, read-write, for tests that stand in for what the API
// never does: a writer killed mid-write, a hostile peer, a corrupted record. The region
// classes keep their own mapping private; this one is the test's, over the same file.
#pragma once

#include <marllb/shm_layout.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <string>

namespace marllb::test {

class RawRegion {
public:
    // Maps the whole file at `path` (LbRegion::path(), AgentRegion::path()); ok() says whether
    // it could.
    explicit RawRegion(const std::string &path) {
        const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st{};
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
            void *p = mmap(nullptr, std::size_t(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p != MAP_FAILED) {
                base_ = static_cast<unsigned char *>(p);
                size_ = std::size_t(st.st_size);
            }
        }
        ::close(fd); // the mapping keeps the file; no role lock is taken or touched
    }
    RawRegion(const RawRegion &) = delete;
    RawRegion &operator=(const RawRegion &) = delete;
    ~RawRegion() {
        if (base_) munmap(base_, size_);
    }

    [[nodiscard]] bool ok() const noexcept { return base_ != nullptr; }
    [[nodiscard]] marllb_region_header_t *header() const noexcept {
        return reinterpret_cast<marllb_region_header_t *>(base_ + MARLLB_HEADER_OFFSET);
    }
    [[nodiscard]] marllb_action_record_t *action_record() const noexcept {
        return reinterpret_cast<marllb_action_record_t *>(base_ + MARLLB_ACTION_RECORD_OFFSET);
    }
    [[nodiscard]] marllb_obs_slot_t &slot_of(std::uint64_t seq) const noexcept {
        return reinterpret_cast<marllb_obs_ring_t *>(base_ + MARLLB_RING_OFFSET)->slots[(seq - 1) % MARLLB_RING_SLOTS];
    }
    [[nodiscard]] marllb_action_section_t *action() const noexcept {
        return reinterpret_cast<marllb_action_section_t *>(base_ + MARLLB_ACTION_OFFSET);
    }
    // nullptr when the region has no reservoir section.
    [[nodiscard]] marllb_reservoir_buffer_t *reservoirs() const noexcept {
        if (size_ < MARLLB_REGION_SIZE_WITH_RESERVOIRS) return nullptr;
        return reinterpret_cast<marllb_reservoir_buffer_t *>(base_ + MARLLB_RESERVOIR_OFFSET);
    }

private:
    unsigned char *base_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace marllb::test
