//! The program's allocator: mimalloc, tuned to keep a training step's
//! buffers for the next step, and a failed allocation reported as an error
//! (E0805, exit code 1) instead of Rust's abort.
//!
//! An allocation that fails this way is one the memory estimate
//! (`dl::train::memory`) did not foresee: the runs it checks are refused
//! before they allocate. Nothing here may allocate, since the allocator has
//! just failed: the message is formatted into a buffer on the stack and
//! written with one system call.

use std::alloc::{GlobalAlloc, Layout};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// NOTE: mimalloc instead of the system allocator: a training step frees and
/// allocates the same large buffers again, which glibc's allocator returns
/// to the kernel and takes back (a page fault and a page clear per 4 KiB,
/// 8-12% of an LSTM step); mimalloc reuses them.
pub struct Allocator;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e` of the
/// vendored mimalloc 2, which the Rust bindings do not name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays mapped before mimalloc gives it back, in
/// milliseconds. NOTE: its default, 10 ms, is shorter than a ResNet step,
/// so the buffers of one step were returned before the next step could
/// reuse them. mimalloc 2 (the `v2` feature) rather than 3 for the same
/// reason: with 3 the ResNet-18 benchmark still took about 1,700 page faults
/// a step, with 2 none after the first.
const PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// Whether a failure is also a JSON event on stdout (`--json`).
static JSON: AtomicBool = AtomicBool::new(false);

/// Sets mimalloc's options and turns transparent huge pages off for the
/// process; called first thing in `main`.
///
/// NOTE: mimalloc asks the kernel for transparent huge pages on its arenas
/// (`madvise(MADV_HUGEPAGE)`), so wherever the kernel allows them
/// (`/sys/kernel/mm/transparent_hugepage/enabled` at `madvise` or `always`)
/// every 2 MiB range the process touches becomes resident whole. The
/// resident memory then depended on the machine: the digits MLP peaked at
/// 11 MB without them and at 20-24 MB with them on two machines, an LSTM
/// run at 242 MB against 266 MB. Without them the memory estimate
/// (`dl::train::memory`) holds on every machine; the cost is a few percent
/// of a ResNet-18 step (3.36 s against 3.48 s for 15 steps, medians of
/// five, on an Intel Xeon with AVX-512).
pub fn configure() {
    // SAFETY: setting an option is allowed at any time; nothing else is
    // using the allocator's options concurrently at the start of main.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    // SAFETY: a plain system call on this process's own flags. Its failure
    // (a kernel without the option) leaves huge pages as they were, which
    // only makes the memory estimate less exact.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Makes an allocation failure also a `{"event":"error"}` line on stdout.
pub fn report_as_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

// SAFETY: every call goes to mimalloc unchanged; only a null result is
// intercepted, and then the process ends.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are mimalloc's.
        checked(unsafe { mimalloc::MiMalloc.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        checked(
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) },
            layout.size(),
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from mimalloc with this layout.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from mimalloc with this layout.
        checked(
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            new_size,
        )
    }
}

fn checked(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(size);
    }
    ptr
}

/// A fixed buffer on the stack that formatting writes into (silently cut
/// at its end).
struct StackText {
    bytes: [u8; 512],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Reports that `size` bytes could not be had and ends the process with
/// exit code 1, allocating nothing.
#[cold]
fn out_of_memory(size: usize) -> ! {
    let mut text = StackText {
        bytes: [0; 512],
        len: 0,
    };
    let amount = dl::train::memory::Bytes(size as u64);
    let code = dl::diagnostic::Code::E0805.as_str();
    let _ = write!(
        text,
        "error[{code}]: out of memory: an allocation of {amount} failed\n  \
         = note: the system gave this process less memory than the run needs (see `ulimit -v` and the free memory)\n  \
         = help: `dl check` and `dl train` print what each run needs; a smaller `batch`, fewer units or filters, or less data need less\n"
    );
    write_all(2, &text.bytes[..text.len]);
    if JSON.load(Ordering::Relaxed) {
        text.len = 0;
        let _ = writeln!(
            text,
            "{{\"event\":\"error\",\"code\":\"{code}\",\"message\":\"out of memory: an allocation of {amount} failed\",\"bytes\":{size}}}"
        );
        write_all(1, &text.bytes[..text.len]);
    }
    // SAFETY: `_exit` ends the process at once, running nothing that could
    // allocate (no destructors, no `atexit` handlers).
    unsafe { libc::_exit(1) }
}

fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live buffer of that length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}
