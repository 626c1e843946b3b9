# The edits of the generated Swift that keep AsyncTokenManager's cached path near the
# blocking one's cost. Run by generate.sh; it fails (exit 1) unless each edit was made
# once, so a UniFFI upgrade that changes the generated code's shape fails the build.
#
# - AsyncTokenManager.accessToken and authorizationHeader answer from the cache with one
#   call, cachedAccessToken, before taking UniFFI's future: the future's continuation and
#   the task's suspension cost more than the call itself.
# - cachedAccessToken's Secret? is read in place from the RustBuffer (UniFFI's format: an
#   i8 tag, then a big-endian i32 length and UTF-8 bytes). The generic reader copies the
#   buffer into a Foundation Data first and reads it integer by integer, which on Linux
#   costs twice the call itself.

/^(open |public |fileprivate |private )?(class|struct|enum|extension|protocol) / {
    class = $0 ~ /^open class AsyncTokenManager[:( ]/ ? "AsyncTokenManager" : ""
}

{ print }

class == "AsyncTokenManager" && /^open func accessToken\(orgId: String\) *async throws +-> +Secret +\{$/ {
    print "    if let cached = cachedAccessToken(orgId: orgId) { return cached }  // generate.sh"
    edits["accessToken"]++
}

class == "AsyncTokenManager" && /^open func authorizationHeader\(orgId: String\) *async throws +-> +Secret +\{$/ {
    print "    if let cached = cachedAccessToken(orgId: orgId) { return Secret(\"Bearer \" + cached.value) }  // generate.sh"
    edits["authorizationHeader"]++
}

/^fileprivate struct FfiConverterOptionTypeSecret: FfiConverterRustBuffer \{$/ {
    print "    // generate.sh: read in place (patch-generated.awk says why)."
    print "    static func lift(_ buf: RustBuffer) throws -> Secret? {"
    print "        defer { buf.deallocate() }"
    print "        guard let data = buf.data, buf.len >= 1 else { throw UniffiInternalError.bufferOverflow }"
    print "        if data[0] == 0 && buf.len == 1 { return nil }"
    print "        guard data[0] == 1, buf.len >= 5 else { throw UniffiInternalError.unexpectedOptionalTag }"
    print "        let count = Int(data[1]) << 24 | Int(data[2]) << 16 | Int(data[3]) << 8 | Int(data[4])"
    print "        guard Int(buf.len) == 5 + count else { throw UniffiInternalError.incompleteData }"
    print "        return Secret(String(decoding: UnsafeBufferPointer(start: data + 5, count: count), as: UTF8.self))"
    print "    }"
    edits["OptionSecret.lift"]++
}

END {
    for (edit in edits) if (edits[edit] == 1) made++
    if (made != 3) {
        printf "patch-generated.awk: made %d of 3 edits once each:", made > "/dev/stderr"
        for (edit in edits) printf " %s=%d", edit, edits[edit] > "/dev/stderr"
        print "" > "/dev/stderr"
        exit 1
    }
}
