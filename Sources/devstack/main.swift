import DevstackCLI

await DevstackEntry.run()
