#include "voxgender.h"

const char *vg_version(void) { return VG_VERSION_STRING; }

const char *vg_strerror(int status)
{
    switch (status) {
    case VG_OK: return "success";
    case VG_ENOMEM: return "out of memory";
    case VG_EARG: return "invalid argument";
    case VG_ENOENT: return "no such file";
    case VG_EIO: return "read or write error";
    case VG_EEMPTY: return "file is empty";
    case VG_EFORMAT: return "not a readable audio file (unknown format or corrupt header)";
    case VG_ENOSTREAM: return "file has no audio stream";
    case VG_ENOSAMPLES: return "audio stream contains no samples";
    case VG_ENONFINITE: return "audio contains NaN or infinite samples";
    case VG_ERATE: return "sample rate out of the supported range (1000..768000 Hz)";
    case VG_EOFFSET: return "offset is past the end of the recording";
    case VG_EDECODE: return "audio data is corrupt or truncated";
    case VG_EIMAGE: return "not a readable PNG or JPEG image";
    case VG_EUNSUPPORTED: return "unsupported audio codec or stream layout";
    case VG_EMODEL: return "invalid model file";
    case VG_EINPUTKIND: return "this model takes recordings, not images";
    case VG_ENOSPEECH: return "no speech to classify: silence, noise or music, or under 0.5 s of speech";
    default: return "unknown error";
    }
}
