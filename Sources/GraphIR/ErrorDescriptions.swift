import Foundation

/// An error whose `localizedDescription` is its `description`: Foundation would otherwise print
/// "(GraphIR.SafetensorsError error 1.)" for it wherever a message is built from `localizedDescription`.
public protocol DescribedError: LocalizedError, CustomStringConvertible {}

extension DescribedError {
    public var errorDescription: String? { description }
}

/// Why a file operation failed, for messages: the system's reason ("Not a directory", "Permission
/// denied") where Foundation has one, instead of Foundation's "(NSCocoaErrorDomain error 512.)".
public func fileErrorReason(_ error: Error) -> String {
    let ns = error as NSError
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    // Linux Foundation stores the cause as a Swift `POSIXError`, which does not cast to NSError directly.
    if let cause = ns.userInfo[NSUnderlyingErrorKey] as? Error, (cause as NSError).domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32((cause as NSError).code)))
    }
    return error.localizedDescription
}
