import { Shell } from './app/shell.ts'

const shell = new Shell(document.getElementById('app')!)
window.addEventListener('unhandledrejection', (e) => shell.showError(e.reason))
void shell.update()
