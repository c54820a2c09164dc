// Electron entry point: window, menus and IPC registration (desktop app issue).
export {};
