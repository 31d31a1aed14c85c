// A fresh local backend for each UI test run.
const fs = require('fs');
const { stopBackend } = require('./backend');

module.exports = async () => {
  stopBackend();
  fs.rmSync(process.env.PAI_JUPYTER_HOME, { recursive: true, force: true });
};
