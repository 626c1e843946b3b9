/* ProcessPrng, which Rust's standard library (1.78+) imports from bcryptprimitives.dll
 * on Windows for its random seeds. Wine 8.0 (Debian bookworm's) has no such DLL, so
 * scripts/test-windows.sh builds this stand-in into wine's system32; it draws from the
 * same CSPRNG through RtlGenRandom (advapi32's SystemFunction036). Wine only: real
 * Windows (10 and later) ships the DLL. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
