function main(params) {
  return { payload: 'Hello, ' + (params.name || 'World') + '!' };
}
