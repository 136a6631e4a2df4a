// Durable files, the process's arguments and `SystemError` moved to PostureSystem so that binaries
// without the host's facts (the collector's posturectl) need not link this module; its users still see them.
@_exported import PostureSystem
