// SPDX-License-Identifier: MIT
// Pages with nothing of their own to do (not found, unavailable, and the
// server-rendered pages behind e-mail links): the shared frame only.
import { startPage } from '../page.js';

startPage();
