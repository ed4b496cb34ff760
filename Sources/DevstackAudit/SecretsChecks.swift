import Crypto
import DevstackCore
import DevstackProject
import DevstackSystem
import Foundation

/// The service role key (and the JWT secret, as powerful) is nowhere a browser, a commit or a log can
/// carry it: browser-bundle variables, `.env` files, committed files, web folders, service logs.
struct ServiceKeyExposureCheck: AuditCheck {
    let id = "keys.service_role"
    let title = "Service role key exposed nowhere"

    /// What bundlers hand to code running in a browser.
    static let browserPrefixes = ["NEXT_PUBLIC_", "VITE_", "EXPO_PUBLIC_", "PUBLIC_", "REACT_APP_", "NUXT_PUBLIC_", "GATSBY_"]
    /// Folders never scanned: dependencies, build caches, devstack's own state (which holds the secrets).
    static let skippedFolders: Set = [".git", ".devstack", "node_modules", ".build", ".venv", "venv", "__pycache__", ".next"]

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let lookedAt =
            "browser-bundle variables (\(Self.browserPrefixes.joined(separator: ", "))), .env files, committed files, web folders, service logs"
        let secrets = context.powerfulSecrets
        var findings: [AuditFinding] = []
        // Variables the stack hands out.
        for value in context.plan.env + context.plan.services.flatMap(\.env) {
            let place = value.origin.location.map { "\($0.file):\($0.line)" } ?? "the stack's env"
            if let problem = Self.browserProblem(name: value.name, value: value.value, secrets: secrets) {
                findings.append(AuditFinding("\(value.name) (\(place))", .fail, problem))
            }
        }
        let project = context.plan.projectDirectory
        let files = Self.projectFiles(in: project)
        for path in files where Self.isEnvFile(path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].hasPrefix("#") else { continue }
                let name = parts[0].replacingOccurrences(of: "export ", with: "")
                let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                if let problem = Self.browserProblem(name: name, value: value, secrets: secrets) {
                    findings.append(AuditFinding("\(Self.relative(path, to: project)):\(number + 1) \(name)", .fail, problem))
                }
            }
        }
        // Committed files, and every file of a folder a web app is built from.
        let committed = Self.committedFiles(in: project)
        let webFolders = files.filter { $0.hasSuffix("/package.json") }.map { String($0.dropLast("/package.json".count)) }
        let scanned = Set((committed ?? []) + files.filter { path in webFolders.contains { path.hasPrefix($0 + "/") } })
        for path in scanned.sorted() {
            guard let (name, line) = Self.firstSecret(in: path, secrets: secrets) else { continue }
            let why = (committed ?? []).contains(path) ? "committed" : "in a web app's folder"
            findings.append(AuditFinding("\(Self.relative(path, to: project)):\(line)", .fail, "\(why), holds \(name)"))
        }
        // What the services printed.
        let logs = "\(context.stateDirectory)/logs"
        for log in ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).sorted() where log.hasSuffix(".log") {
            if let (name, line) = Self.firstSecret(in: "\(logs)/\(log)", secrets: secrets) {
                findings.append(AuditFinding("logs/\(log):\(line)", .fail, "a service printed \(name)"))
            }
        }
        var notes: [String] = []
        if committed == nil { notes.append("not a git repository: committed files not checked") }
        if secrets.isEmpty { notes.append("the profile gives no service role key or JWT secret here: names checked, values not") }
        notes.append("production fingerprints: not checked (devstack does not record them yet)")
        let problems = findings.count
        return result(
            lookedAt: lookedAt,
            summary: (problems == 0
                ? "not found in \(scanned.count) committed or web files, the .env files, the stack's variables or the logs"
                : "found in \(problems) place\(problems == 1 ? "" : "s")") + "; " + notes.joined(separator: "; "),
            findings: findings,
            fix: "keep the service role key and JWT secret server-side only: remove them from browser variables and committed files, "
                + "rotate any that was committed (delete it from .devstack/<profile>/secrets and devstack makes a new one), and give browsers the anon key"
        )
    }

    /// A browser-bundle variable carrying a secret, or named as one.
    static func browserProblem(name: String, value: String, secrets: [(name: String, value: String)]) -> String? {
        guard browserPrefixes.contains(where: { name.hasPrefix($0) }) else { return nil }
        if let secret = secrets.first(where: { !$0.value.isEmpty && value.contains($0.value) }) {
            return "a browser bundle carries this variable, and it holds \(secret.name)"
        }
        let upper = name.uppercased()
        if upper.contains("SERVICE_ROLE") || upper.contains("SERVICE_KEY") || upper.contains("JWT_SECRET") {
            return "a browser bundle carries this variable, and its name says it is a service key"
        }
        return nil
    }

    static func isEnvFile(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        return name == ".env" || name.hasPrefix(".env.") || name.hasSuffix(".env")
    }

    /// Every regular file under the project, less the folders never scanned.
    static func projectFiles(in root: String) -> [String] {
        var files: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if skippedFolders.contains(name) || name.hasPrefix(".build-") {
                walker.skipDescendants()
                continue
            }
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { files.append("\(root)/\(relative)") }
        }
        return files
    }

    /// `git ls-files`, absolute; nil outside a repository (or without git).
    static func committedFiles(in root: String) -> [String]? {
        guard let git = ExecutableLookup.resolve("git", workingDirectory: root, environment: ProcessInfo.processInfo.environment),
            let listing = ToolOutput.read(git, ["-C", root, "ls-files", "--full-name", "--", "."]),
            let top = ToolOutput.read(git, ["-C", root, "rev-parse", "--show-toplevel"])
        else { return nil }
        return listing.split(separator: "\n").map { "\(top)/\($0)" }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// The first secret a file holds, and on which line; files over 4 MiB are skipped.
    static func firstSecret(in path: String, secrets: [(name: String, value: String)]) -> (String, Int)? {
        guard !secrets.isEmpty, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            (attributes[.size] as? Int ?? 0) < 4 << 20, let data = FileManager.default.contents(atPath: path)
        else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        for secret in secrets where secret.value.count >= 16 {
            guard let range = text.range(of: secret.value) else { continue }
            return (secret.name, text[..<range.lowerBound].filter { $0 == "\n" }.count + 1)
        }
        return nil
    }

    static func relative(_ path: String, to root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
}

/// No well-known demo secret where it matters, and secret files only their owner reads.
struct SecretsCheck: AuditCheck {
    let id = "secrets"
    let title = "Secrets: no demo values, files private"

    /// The secret files of a state folder and their modes.
    static func secretFileModes(in folder: String) -> [(name: String, mode: Int)] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted().compactMap { name in
            guard name.hasPrefix("secrets") || name.hasSuffix(".pem") || name.hasPrefix("signing"),
                let mode = (try? FileManager.default.attributesOfItem(atPath: "\(folder)/\(name)"))?[.posixPermissions] as? Int
            else { return nil }
            return (name, mode)
        }
    }

    /// Whether an HS256 token's signature is the demo secret's.
    static func signedWithDemoSecret(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return false }
        let signature = HMAC<SHA256>.authenticationCode(
            for: Data("\(parts[0]).\(parts[1])".utf8), using: SymmetricKey(data: Data(SupabaseDemo.jwtSecret.utf8)))
        return TokenForge.base64URL(Data(signature)) == parts[2]
    }

    func run(_ context: AuditContext) async -> AuditCheckResult {
        let lookedAt = "the profile's JWT secret and keys; the files in .devstack/\(context.plan.profile.name)"
        var findings: [AuditFinding] = []
        let demo = context.powerfulSecrets.contains { $0.value == SupabaseDemo.jwtSecret }
        if demo {
            findings.append(
                AuditFinding(
                    "jwt_secret", context.alwaysOn ? .fail : .pass,
                    context.alwaysOn
                        ? "the Supabase demo JWT secret: anyone can mint a service role token"
                        : "the Supabase demo JWT secret (fine on a laptop profile, refused on staging and production)"))
        } else if !context.powerfulSecrets.isEmpty {
            findings.append(AuditFinding("jwt_secret", .pass, "not a known demo secret"))
        }
        // Keys signed with the demo secret (Supabase's published anon and service role keys among them).
        let names = ["anon_key", "service_role_key"]
        let keys =
            context.plan.services.flatMap { service in names.compactMap { service.attributes[$0] } } + names.compactMap { context.plan.secrets[$0] }
        if context.alwaysOn, !demo, keys.contains(where: Self.signedWithDemoSecret) {
            findings.append(AuditFinding("anon_key / service_role_key", .fail, "a key signed with the Supabase demo JWT secret"))
        }
        for (name, mode) in context.secretFileModes {
            let octal = String(mode & 0o777, radix: 8)
            findings.append(
                mode & 0o077 == 0
                    ? AuditFinding(".devstack/\(context.plan.profile.name)/\(name)", .pass, "mode \(octal)")
                    : AuditFinding(
                        ".devstack/\(context.plan.profile.name)/\(name)", .fail,
                        "mode \(octal): readable by other users (devstack has set it to 600 since)"))
        }
        let problems = findings.filter { $0.status != .pass }.count
        return result(
            lookedAt: lookedAt,
            summary: problems == 0
                ? "no demo secret where it matters; \(findings.count - (demo || !context.powerfulSecrets.isEmpty ? 1 : 0)) secret files, each 0600"
                : "\(problems) problem\(problems == 1 ? "" : "s")",
            findings: findings,
            fix: "give staging and production a secret of their own (remove the profile's jwt_secret to let devstack generate one); "
                + "a secrets file others could read: find out who could, and rotate what it holds")
    }
}
