// The typed window.api bridge is built from src/shared/ipc.ts (desktop app issue).
export {};
