import Foundation

/// JSONSerialization gives JSON's true and false as NSNumber, and `as? Bool` also accepts 1 and 0:
/// only the type code ("c", a char) tells a boolean from a number.
public func isBoolean(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c"
}
