/// A token or key that must not be printed: an Org Access Token, a refresh token, or an
/// app's private key.
///
/// `description`, `debugDescription` and the mirror (`dump`, `String(reflecting:)`, the
/// default description of a record holding it) all show `<redacted>`. The value itself is
/// reachable on purpose only, through ``value``. core/uniffi.toml maps the UDL's
/// `[Custom] typedef string Secret` to this type.
public struct Secret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable,
    Hashable, Sendable
{
    /// The secret itself. Read it only to send or store it.
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "<redacted>" }

    public var debugDescription: String { "Secret(<redacted>)" }

    public var customMirror: Mirror {
        Mirror(self, children: [], displayStyle: .struct)
    }
}
