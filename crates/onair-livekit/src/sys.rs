//! The only module that says `unsafe`: it owns the loaded `liblivekit_ffi`, its four C entry
//! points, the native callback, reads of native buffers, and the two glibc allocator calls the
//! SDK's threads make necessary. Everything above it is safe Rust.

use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};

use crate::proto;

type InitializeFn = unsafe extern "C" fn(
    cb: extern "C" fn(*const u8, usize),
    capture_logs: bool,
    sdk: *const c_char,
    sdk_version: *const c_char,
);
type RequestFn = unsafe extern "C" fn(*const u8, usize, *mut *const u8, *mut usize) -> u64;
type DropHandleFn = unsafe extern "C" fn(u64) -> bool;
type DisposeFn = unsafe extern "C" fn();

/// The loaded library and its entry points. The `libloading::Library` is kept alive as long as
/// this value, so the function pointers stay valid.
pub(crate) struct Library {
    request: RequestFn,
    drop_handle: DropHandleFn,
    dispose: DisposeFn,
    initialize: InitializeFn,
    path: PathBuf,
    _lib: libloading::Library,
}

impl Library {
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        // SAFETY: loading runs the library's initialisers. liblivekit_ffi's only do Rust/C++
        // static setup; it is the pinned, sha256-checked build from LiveKit's own wheel.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
        // SAFETY: the symbol types match `livekit_ffi.h` of the pinned SDK (and the Python
        // SDK's ctypes declarations for `livekit_ffi_initialize`, which the header omits).
        unsafe {
            let initialize = *lib
                .get::<InitializeFn>(b"livekit_ffi_initialize\0")
                .map_err(|e| e.to_string())?;
            let request = *lib
                .get::<RequestFn>(b"livekit_ffi_request\0")
                .map_err(|e| e.to_string())?;
            let drop_handle = *lib
                .get::<DropHandleFn>(b"livekit_ffi_drop_handle\0")
                .map_err(|e| e.to_string())?;
            let dispose = *lib
                .get::<DisposeFn>(b"livekit_ffi_dispose\0")
                .map_err(|e| e.to_string())?;
            Ok(Self {
                request,
                drop_handle,
                dispose,
                initialize,
                path: path.to_owned(),
                _lib: lib,
            })
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the SDK's runtime with `on_event` as its callback. Call once per process.
    pub(crate) fn initialize(&self, capture_logs: bool, sdk_version: &str) {
        let sdk = CString::new("rust").expect("no NUL");
        let version = CString::new(sdk_version).unwrap_or_else(|_| CString::new("0").unwrap());
        // SAFETY: both strings outlive the call (the SDK copies them); `on_event` is a plain
        // `extern "C"` function that never unwinds (it catches panics).
        unsafe { (self.initialize)(on_event, capture_logs, sdk.as_ptr(), version.as_ptr()) }
    }

    /// Sends one encoded `FfiRequest` and returns a copy of the encoded `FfiResponse`.
    pub(crate) fn request(&self, request: &[u8]) -> Vec<u8> {
        let mut res_ptr: *const u8 = std::ptr::null();
        let mut res_len: usize = 0;
        // SAFETY: `request` is a valid slice for the call; the out-pointers are valid locals.
        let handle =
            unsafe { (self.request)(request.as_ptr(), request.len(), &mut res_ptr, &mut res_len) };
        let response = if res_ptr.is_null() || res_len == 0 {
            Vec::new()
        } else {
            // SAFETY: the SDK returns a buffer of `res_len` bytes owned by `handle`, valid
            // until that handle is dropped just below.
            unsafe { std::slice::from_raw_parts(res_ptr, res_len) }.to_vec()
        };
        if handle != 0 {
            self.drop_handle(handle);
        }
        response
    }

    pub(crate) fn drop_handle(&self, handle: u64) -> bool {
        // SAFETY: dropping an id the SDK does not know is harmless (it returns false);
        // callers drop each owned id exactly once.
        unsafe { (self.drop_handle)(handle) }
    }

    /// Tears the SDK runtime down. Once, at process exit.
    pub(crate) fn dispose(&self) {
        // SAFETY: callers guarantee no request is in flight and it is called once.
        unsafe { (self.dispose)() }
    }
}

/// A native buffer the SDK handed us (a decoded video frame, a received audio frame), valid
/// as long as its owning handle lives. Made only here, from the SDK's own description of a
/// frame ([`audio_samples`], [`video_plane`]).
struct NativeBytes {
    ptr: u64,
    len: usize,
}

impl NativeBytes {
    /// # Safety
    /// `ptr` is 0, or points at `len` bytes (for [`NativeBytes::copy_i16`], `len` aligned
    /// i16 samples) that the SDK owns under the handle passed to the copy.
    unsafe fn new(ptr: u64, len: usize) -> Self {
        Self { ptr, len }
    }

    /// Copies the bytes out while `_owner` keeps the buffer alive.
    fn copy(&self, _owner: &crate::handle::FfiHandle) -> Vec<u8> {
        if self.ptr == 0 || self.len == 0 {
            return Vec::new();
        }
        // SAFETY: `new`'s contract: `ptr`/`len` describe a buffer the SDK owns under
        // `_owner`'s handle id, which the borrow keeps alive for the duration of this copy.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }.to_vec()
    }

    /// Copies `len` i16 samples out while `_owner` keeps the buffer alive.
    fn copy_i16(&self, _owner: &crate::handle::FfiHandle) -> Vec<i16> {
        if self.ptr == 0 || self.len == 0 || !self.ptr.is_multiple_of(2) {
            return Vec::new();
        }
        // SAFETY: as in `copy`; `new`'s contract makes it `len` aligned i16 samples.
        unsafe { std::slice::from_raw_parts(self.ptr as *const i16, self.len) }.to_vec()
    }
}

/// The samples of a received audio frame, as the SDK described it in its event, copied out
/// while `owner` (the frame's handle, from the same event) lives.
pub(crate) fn audio_samples(
    info: &proto::AudioFrameBufferInfo,
    owner: &crate::handle::FfiHandle,
) -> Vec<i16> {
    let len = (info.samples_per_channel * info.num_channels) as usize;
    // SAFETY: the SDK's frame event gives the interleaved i16 buffer it owns under `owner`:
    // `data_ptr` with samples per channel × channels samples.
    unsafe { NativeBytes::new(info.data_ptr, len) }.copy_i16(owner)
}

/// One plane of a decoded video frame, as the SDK described it in its event, copied out
/// while `owner` (the frame's handle, from the same event) lives.
pub(crate) fn video_plane(
    component: &proto::video_buffer_info::ComponentInfo,
    owner: &crate::handle::FfiHandle,
) -> Vec<u8> {
    // SAFETY: the SDK's frame event gives each plane of the buffer it owns under `owner` as
    // `data_ptr` and `size` bytes.
    unsafe { NativeBytes::new(component.data_ptr, component.size as usize) }.copy(owner)
}

/// Runs on the SDK's threads. It only decodes and hands off; it never blocks and never calls
/// back into the library (the dispatcher guarantees both).
extern "C" fn on_event(data: *const u8, len: usize) {
    if data.is_null() {
        return;
    }
    // SAFETY: the SDK passes a buffer of `len` bytes valid for the duration of the callback.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    // A panic must not unwind into C.
    let _ = std::panic::catch_unwind(|| crate::engine::dispatch(bytes));
}

/// Caps glibc's malloc arenas for the whole process (see `memory::tune_memory`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn limit_malloc_arenas(max: u16) -> bool {
    // SAFETY: mallopt only changes allocator tuning; M_ARENA_MAX is valid at any time and
    // affects arenas created afterwards.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, i32::from(max.max(1))) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn limit_malloc_arenas(_max: u16) -> bool {
    false
}

/// Hands the allocator's free pages back to the OS (see `engine::release_free_memory`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn trim_heap() -> bool {
    // SAFETY: malloc_trim only returns whole free pages to the kernel; it is thread-safe and
    // never touches memory in use.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn trim_heap() -> bool {
    false
}

/// Bytes the process's malloc has handed out and not had back, and bytes it holds from the
/// OS (see `memory::heap_usage`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn malloc_usage() -> Option<(u64, u64)> {
    // SAFETY: mallinfo2 only reads the allocator's counters (under its locks) and returns
    // them by value; it takes no pointers.
    let info = unsafe { libc::mallinfo2() };
    // Small blocks in arenas plus large blocks mapped on their own.
    Some((
        (info.uordblks + info.hblkhd) as u64,
        (info.arena + info.hblkhd) as u64,
    ))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn malloc_usage() -> Option<(u64, u64)> {
    None
}
